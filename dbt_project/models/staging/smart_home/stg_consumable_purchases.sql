{#- Purchase lines of consumable categories by identified shoppers, read from bronze clickstream.
    Only these few columns matter to the re-order marts, so they are read here directly rather than
    through the clickstream staging models (which another part of the project owns and evolves). -#}
with source as (
    select * from {{ source('bronze', 'clickstream_events') }}
    where event_type = 'purchase'
      and user_id is not null
      and category in {{ sh_consumable_categories_sql() }}
),

ranked as (
    select
        source.*,
        row_number() over (partition by event_id order by _landed_at desc, _source_file, _source_line) as copy_rank
    from source
)

select
    event_id,
    user_id,
    order_id,
    product_id,
    category,
    cast(coalesce(quantity, 1) as integer) as quantity,
    price,
    currency,
    {{ sh_utc('occurred_at') }} as purchased_at,
    cast({{ sh_local(sh_utc('occurred_at'), 'tz_offset_minutes') }} as date) as purchase_date,
    event_date
from ranked
where copy_rank = 1
