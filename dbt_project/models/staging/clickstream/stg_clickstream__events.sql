{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **beacon_partition_overwrite_config('event_date')
    )
}}
{#- One row per event_id, in UTC, with bot, consent and outlier flags. Windowed runs rebuild whole
    event_date partitions [start - lookback, end): every rule below only looks inside one
    event_date (duplicates share occurred_at; burst rate is per device and UTC day), so a
    partition rebuilt alone equals the same partition of a full refresh. -#}

with source as (

    select *
    from {{ source('bronze', 'clickstream_events') }}
    where {{ beacon_window_filter('event_date') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by received_at nulls last, _landed_at nulls last, _source_file, _source_line
        ) as copy_number,
        count(*) over (partition by event_id) as copies
    from source

),

typed as (

    select
        event_id,
        event_type,
        user_id,
        anonymous_id,
        {{ utc_timestamp('occurred_at') }} as occurred_at,
        {{ utc_timestamp('received_at') }} as received_at,
        cast(event_date as date) as event_date,
        cast(tz_offset_minutes as integer) as tz_offset_minutes,
        page_url,
        referrer,
        product_id,
        category,
        price,
        quantity,
        currency,
        order_id,
        search_query,
        scroll_depth_pct,
        engaged_seconds,
        device_type,
        user_agent,
        country,
        consent_analytics,
        consent_personalization,
        experiment_id,
        variant,
        cast(copies - 1 as integer) as duplicates_removed,
        _source_file as source_file,
        _source_line as source_line
    from ranked
    where copy_number = 1

),

minutes as (

    select
        *,
        case
            when anonymous_id is null or event_type in ('checkout_started', 'purchase', 'refund') then 0
            else count(*) over (
                partition by anonymous_id, {{ dbt.date_trunc('minute', 'occurred_at') }},
                    event_type in ('checkout_started', 'purchase', 'refund')
            )
        end as device_events_in_minute
    from typed

),

flagged as (

    select
        *,
        max(device_events_in_minute) over (partition by anonymous_id, event_date) as device_day_max_events_per_minute,
        coalesce({{ regex_matches('user_agent', var('bot_user_agent_regex')) }}, false) as is_bot_user_agent
    from minutes

)

select
    event_id,
    event_type,
    user_id,
    anonymous_id,
    occurred_at,
    received_at,
    event_date,
    tz_offset_minutes,
    {{ dbt.dateadd('minute', 'tz_offset_minutes', 'occurred_at') }} as occurred_at_local,
    page_url,
    referrer,
    product_id,
    category,
    price,
    quantity,
    currency,
    order_id,
    search_query,
    scroll_depth_pct,
    engaged_seconds,
    case
        when engaged_seconds > {{ var('max_engaged_seconds_per_ping') }} then cast({{ var('max_engaged_seconds_per_ping') }} as double)
        else engaged_seconds
    end as engaged_seconds_capped,
    coalesce(engaged_seconds > {{ var('max_engaged_seconds_per_ping') }}, false) as is_engagement_capped,
    coalesce(quantity > {{ var('max_line_quantity') }} or price > {{ var('max_unit_price') }}, false) as is_value_outlier,
    case
        when event_type in ('purchase', 'refund')
         and not coalesce(quantity > {{ var('max_line_quantity') }} or price > {{ var('max_unit_price') }}, false)
        then {{ to_eur('price * quantity', 'currency') }}
    end as line_amount_eur,
    device_type,
    user_agent,
    country,
    consent_analytics,
    consent_personalization,
    experiment_id,
    variant,
    anonymous_id is not null and consent_analytics as has_analytics_consent,
    is_bot_user_agent,
    coalesce(device_day_max_events_per_minute > {{ var('bot_max_events_per_minute') }}, false) as is_bot_burst,
    is_bot_user_agent
        or coalesce(device_day_max_events_per_minute > {{ var('bot_max_events_per_minute') }}, false) as is_bot,
    case
        when is_bot_user_agent then 'bot_user_agent'
        when device_day_max_events_per_minute > {{ var('bot_max_events_per_minute') }} then 'bot_burst_rate'
        when anonymous_id is null or not consent_analytics then 'no_analytics_consent'
    end as exclusion_reason,
    not is_bot_user_agent
        and not coalesce(device_day_max_events_per_minute > {{ var('bot_max_events_per_minute') }}, false)
        and anonymous_id is not null and consent_analytics as is_behavioural,
    duplicates_removed,
    source_file,
    source_line
from flagged
