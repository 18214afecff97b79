{#- Segment movement: each customer's RFM segment at reference_date (mart_rfm) beside the segment
    the same rules gave rfm_movement_days earlier, on the data up to that day. Customers who had
    not bought yet then are 'Not a customer yet'. BI shows the flows between segments from it. -#}

{% set previous_as_of = dbt.dateadd('day', -1 * var('rfm_movement_days'), beacon_date(var('reference_date'))) %}

with previous as (

    select user_id, segment
    from ({{ rfm_scores('cast(' ~ previous_as_of ~ ' as date)') }}) as earlier

)

select
    c.user_id,
    cast({{ previous_as_of }} as date) as previous_as_of,
    {{ beacon_date(var('reference_date')) }} as as_of,
    coalesce(p.segment, 'Not a customer yet') as previous_segment,
    c.segment as current_segment,
    coalesce(p.segment, 'Not a customer yet') <> c.segment as moved
from {{ ref('mart_rfm') }} as c
left join previous as p on c.user_id = p.user_id
