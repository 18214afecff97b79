{#- What cleaning removed, capped or set aside, and why, per UTC event date. Aggregate-only, so
    events without analytics consent (null identifiers) are counted here and nowhere per user.
    `action` says what happened: excluded (not in any behavioural mart), removed (duplicate
    deliveries), capped (engaged seconds cut to the cap), excluded_from_revenue (absurd values). -#}

with events as (

    select * from {{ ref('stg_clickstream__events') }}

),

reasons as (

    select event_date, exclusion_reason as reason, 'excluded' as action,
           count(*) as events, count(distinct anonymous_id) as devices
    from events
    where exclusion_reason is not null
    group by event_date, exclusion_reason

    union all

    select event_date, 'duplicate_delivery' as reason, 'removed' as action,
           sum(duplicates_removed) as events, count(distinct anonymous_id) as devices
    from events
    where duplicates_removed > 0
    group by event_date

    union all

    select event_date, 'engaged_seconds_above_cap' as reason, 'capped' as action,
           count(*) as events, count(distinct anonymous_id) as devices
    from events
    where is_engagement_capped
    group by event_date

    union all

    select event_date, 'absurd_quantity_or_price' as reason, 'excluded_from_revenue' as action,
           count(*) as events, count(distinct anonymous_id) as devices
    from events
    where is_value_outlier
    group by event_date

)

select
    event_date,
    reason,
    action,
    cast(events as bigint) as events,
    cast(devices as bigint) as devices
from reasons
