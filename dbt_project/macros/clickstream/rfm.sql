{#- RFM per customer as of a date (`as_of`: a SQL date expression; a customer is a stitched user
    with at least one purchase on or before as_of):
    recency_days  days from the last purchase date to as_of (0 = bought that day)
    frequency     distinct purchase orders
    monetary_eur  purchase lines minus refund lines (EUR, rounded to cents), absurd values excluded
    scores        ntile(5) quintiles, 5 = best: recency ordered oldest -> newest, frequency and
                  monetary ascending; ties broken by user_id so a rebuild gives the same scores.
    segment       first matching rule in mart_rfm's YAML (a complete partition of the r x f grid).
    Shared by mart_rfm (as of reference_date) and mart_rfm_movement (also as of an earlier day), so
    the two can never disagree on a rule. -#}
{% macro rfm_scores(as_of) %}

with lines as (

    select *
    from {{ ref('int_clickstream__events_stitched') }}
    where stitched_user_id is not null
      and event_type in ('purchase', 'refund')
      and cast(occurred_at as date) <= {{ as_of }}

),

customers as (

    select
        stitched_user_id as user_id,
        max(case when event_type = 'purchase' then cast(occurred_at as date) end) as last_purchase_date,
        count(distinct case when event_type = 'purchase' then order_id end) as frequency,
        coalesce(sum(case when event_type = 'purchase' then line_amount_eur end), 0)
            - coalesce(sum(case when event_type = 'refund' then line_amount_eur end), 0) as monetary_eur
    from lines
    group by stitched_user_id
    having count(case when event_type = 'purchase' then 1 end) > 0

),

scored as (

    select
        user_id,
        last_purchase_date,
        cast({{ dbt.datediff('last_purchase_date', as_of, 'day') }} as integer) as recency_days,
        cast(frequency as integer) as frequency,
        cast(round(monetary_eur, 2) as double) as monetary_eur
    from customers

),

quintiles as (

    select
        *,
        cast(ntile(5) over (order by recency_days desc, user_id) as integer) as r_score,
        cast(ntile(5) over (order by frequency, user_id) as integer) as f_score,
        cast(ntile(5) over (order by monetary_eur, user_id) as integer) as m_score
    from scored

)

select
    user_id,
    last_purchase_date,
    recency_days,
    frequency,
    monetary_eur,
    r_score,
    f_score,
    m_score,
    cast(r_score * 100 + f_score * 10 + m_score as integer) as rfm_cell,
    case
        when r_score >= 4 and f_score >= 4 and m_score >= 4 then 'Champions'
        when r_score >= 3 and f_score >= 4 then 'Loyal'
        when r_score >= 4 and f_score between 2 and 3 then 'Potential loyalist'
        when r_score = 5 and f_score = 1 then 'New'
        when r_score = 4 and f_score = 1 then 'Promising'
        when r_score = 3 and f_score between 2 and 3 then 'Need attention'
        when r_score = 3 and f_score = 1 then 'About to sleep'
        when r_score = 1 and f_score >= 4 then 'Can''t lose'
        when r_score <= 2 and f_score >= 3 then 'At risk'
        when r_score <= 2 and f_score = 2 then 'Hibernating'
        else 'Lost'
    end as segment
from quintiles

{% endmacro %}
