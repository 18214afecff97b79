{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **beacon_partition_overwrite_config('device_bucket')
    )
}}
{#- Sessions per device (anonymous_id): a new session starts at a device's first event and after
    every gap of session_timeout_minutes or MORE (a gap of exactly 30:00.000 starts a new session).
    Events are ordered by (occurred_at, event_id), so out-of-order delivery does not matter and
    equal timestamps have a stable order. Only behavioural events count (no bots, analytics consent).

    Incremental (snowplow-like, exact): a windowed run takes the devices with events in
    [start - lookback, end) and rebuilds, for each, every session that ends at or after
    threshold = (start - lookback) - timeout: from the start of the first such stored session (a
    true session start, since nothing earlier changes), or from start - lookback when that is
    earlier or there is none (a late event may land before every stored session of the window).
    The table is partitioned by device_bucket (portable.sql) and a run rewrites whole buckets on
    every engine (DuckDB delete+insert, Spark insert_overwrite): it returns, for each bucket of an
    active device, the rebuilt sessions plus the stored sessions it does not rebuild (other devices,
    and sessions ending before the threshold), so sessions merged or re-cut by late events leave no
    stale rows. -#}

{%- set timeout = var('session_timeout_minutes') | int -%}
{%- set windowed = beacon_is_windowed() -%}
{%- set columns = [
    'session_id', 'anonymous_id', 'session_user_id', 'session_start_at', 'session_end_at', 'session_date',
    'duration_seconds', 'engaged_seconds', 'has_capped_engagement', 'events', 'page_views', 'product_views',
    'page_pings', 'max_scroll_depth_pct', 'searches', 'cart_adds', 'cart_removes', 'wishlist_adds',
    'checkout_started', 'purchased', 'orders', 'revenue_eur', 'has_value_outlier', 'is_abandoned_cart',
    'is_bounce', 'landing_page_url', 'landing_referrer', 'referrer_channel', 'device_type', 'country',
    'tz_offset_minutes', 'local_start_hour', 'local_start_weekday', 'experiment_id', 'variant', 'device_bucket',
] -%}

with

{% if windowed %}
{%- set w = beacon_window() -%}
{%- set threshold = beacon_timestamp(beacon_sessions_rebuild_threshold()) -%}
{%- set read_start = beacon_timestamp(w['read_start']) -%}
active_devices as (

    select distinct anonymous_id
    from {{ ref('stg_clickstream__events') }}
    where is_behavioural
      and {{ beacon_window_filter('event_date') }}

),

rewritten_buckets as (

    select distinct {{ device_bucket('anonymous_id') }} as device_bucket
    from active_devices

),

anchors as (

    select s.anonymous_id, min(s.session_start_at) as rebuild_from
    from {{ this }} as s
    inner join active_devices as d on s.anonymous_id = d.anonymous_id
    where s.session_end_at >= {{ threshold }}
    group by s.anonymous_id

),

kept as (

    select s.*
    from {{ this }} as s
    inner join rewritten_buckets as b on s.device_bucket = b.device_bucket
    left join active_devices as d on s.anonymous_id = d.anonymous_id
    where d.anonymous_id is null or s.session_end_at < {{ threshold }}

),

events as (

    select e.*
    from {{ ref('stg_clickstream__events') }} as e
    inner join active_devices as d on e.anonymous_id = d.anonymous_id
    left join anchors as a on e.anonymous_id = a.anonymous_id
    where e.is_behavioural
      and e.occurred_at >= case when a.rebuild_from < {{ read_start }} then a.rebuild_from else {{ read_start }} end

),
{% else %}
events as (

    select *
    from {{ ref('stg_clickstream__events') }}
    where is_behavioural

),
{% endif %}

gaps as (

    select
        *,
        lag(occurred_at) over (partition by anonymous_id order by occurred_at, event_id) as previous_at
    from events

),

numbered as (

    select
        *,
        sum(
            case
                when previous_at is null then 1
                when occurred_at >= {{ dbt.dateadd('minute', timeout, 'previous_at') }} then 1
                else 0
            end
        ) over (
            partition by anonymous_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_index,
        row_number() over (partition by anonymous_id order by occurred_at, event_id) as device_event_order
    from gaps

),

aggregated as (

    select
        anonymous_id,
        session_index,
        min(device_event_order) as first_event_order,
        min(occurred_at) as session_start_at,
        max(occurred_at) as session_end_at,
        count(*) as events,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
        sum(case when event_type = 'page_ping' then 1 else 0 end) as page_pings,
        coalesce({{ exact_sum("case when event_type = 'page_ping' then engaged_seconds_capped end", 3) }}, 0) as engaged_seconds,
        max(case when is_engagement_capped then 1 else 0 end) = 1 as has_capped_engagement,
        max(scroll_depth_pct) as max_scroll_depth_pct,
        sum(case when event_type = 'search' then 1 else 0 end) as searches,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as cart_adds,
        sum(case when event_type = 'remove_from_cart' then 1 else 0 end) as cart_removes,
        sum(case when event_type = 'add_to_wishlist' then 1 else 0 end) as wishlist_adds,
        max(case when event_type = 'checkout_started' then 1 else 0 end) = 1 as checkout_started,
        max(case when event_type = 'purchase' then 1 else 0 end) = 1 as purchased,
        count(distinct case when event_type = 'purchase' then order_id end) as orders,
        coalesce(sum(case when event_type = 'purchase' then line_amount_eur end), 0) as revenue_eur,
        max(case when is_value_outlier then 1 else 0 end) = 1 as has_value_outlier
    from numbered
    group by anonymous_id, session_index

),

first_events as (

    select
        n.anonymous_id,
        n.session_index,
        n.page_url as landing_page_url,
        n.referrer as landing_referrer,
        n.device_type,
        n.country,
        n.tz_offset_minutes
    from numbered as n
    inner join aggregated as a
        on n.anonymous_id = a.anonymous_id
       and n.device_event_order = a.first_event_order

),

{#- The session's user: user_id of its first identified event; experiment: its first tagged event. -#}
first_identified as (

    select anonymous_id, session_index, user_id
    from (
        select
            anonymous_id, session_index, user_id,
            row_number() over (partition by anonymous_id, session_index order by occurred_at, event_id) as rn
        from numbered
        where user_id is not null
    ) as ranked
    where rn = 1

),

first_experiment as (

    select anonymous_id, session_index, experiment_id, variant
    from (
        select
            anonymous_id, session_index, experiment_id, variant,
            row_number() over (partition by anonymous_id, session_index order by occurred_at, event_id) as rn
        from numbered
        where experiment_id is not null
    ) as ranked
    where rn = 1

),

sessions as (

    select
        {{ dbt.hash(dbt.concat(["a.anonymous_id", "'|'", "cast(a.session_start_at as " ~ dbt.type_string() ~ ")"])) }} as session_id,
        a.anonymous_id,
        i.user_id as session_user_id,
        a.session_start_at,
        a.session_end_at,
        cast(a.session_start_at as date) as session_date,
        {{ seconds_between('a.session_start_at', 'a.session_end_at') }} as duration_seconds,
        {#- A ping reports the engaged seconds BEFORE it, which for the first ping can predate the session's
            first event: engaged time is capped at the session's span so it never exceeds its duration. -#}
        cast(least(a.engaged_seconds, {{ seconds_between('a.session_start_at', 'a.session_end_at') }}) as double) as engaged_seconds,
        a.has_capped_engagement,
        cast(a.events as integer) as events,
        cast(a.page_views as integer) as page_views,
        cast(a.product_views as integer) as product_views,
        cast(a.page_pings as integer) as page_pings,
        a.max_scroll_depth_pct,
        cast(a.searches as integer) as searches,
        cast(a.cart_adds as integer) as cart_adds,
        cast(a.cart_removes as integer) as cart_removes,
        cast(a.wishlist_adds as integer) as wishlist_adds,
        a.checkout_started,
        a.purchased,
        cast(a.orders as integer) as orders,
        cast(a.revenue_eur as double) as revenue_eur,
        a.has_value_outlier,
        a.cart_adds > 0 and not a.purchased as is_abandoned_cart,
        a.page_views + a.product_views <= 1
            and a.searches + a.cart_adds + a.cart_removes + a.wishlist_adds = 0
            and not a.checkout_started and not a.purchased as is_bounce,
        f.landing_page_url,
        f.landing_referrer,
        {{ referrer_channel('f.landing_referrer', 'f.landing_page_url') }} as referrer_channel,
        f.device_type,
        f.country,
        f.tz_offset_minutes,
        cast(extract(hour from {{ dbt.dateadd('minute', 'f.tz_offset_minutes', 'a.session_start_at') }}) as integer) as local_start_hour,
        cast({{ iso_weekday(dbt.dateadd('minute', 'f.tz_offset_minutes', 'a.session_start_at')) }} as integer) as local_start_weekday,
        e.experiment_id,
        e.variant,
        {{ device_bucket('a.anonymous_id') }} as device_bucket
    from aggregated as a
    inner join first_events as f
        on a.anonymous_id = f.anonymous_id and a.session_index = f.session_index
    left join first_identified as i
        on a.anonymous_id = i.anonymous_id and a.session_index = i.session_index
    left join first_experiment as e
        on a.anonymous_id = e.anonymous_id and a.session_index = e.session_index

)

select {{ columns | join(', ') }} from sessions
{%- if windowed %}
union all
select {{ columns | join(', ') }} from kept
{%- endif %}
