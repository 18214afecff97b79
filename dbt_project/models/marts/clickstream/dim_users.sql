{#- One row per stitched user: activity, shopping and favourite categories. Users are known
    (logged-in) people; devices that never logged in are not users. -#}
{%- set top_n = var('favourite_categories_top_n') | int -%}

with events as (

    select * from {{ ref('int_clickstream__events_stitched') }}
    where stitched_user_id is not null

),

activity as (

    select
        stitched_user_id as user_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as events,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as cart_adds,
        count(distinct case when event_type = 'purchase' then order_id end) as orders,
        sum(case when event_type = 'purchase' then 1 else 0 end) as purchase_lines,
        coalesce(sum(case when event_type = 'purchase' then line_amount_eur end), 0) as revenue_eur,
        coalesce(sum(case when event_type = 'refund' then line_amount_eur end), 0) as refunds_eur
    from events
    group by stitched_user_id

),

last_event as (

    select user_id, last_activity_type, consent_personalization
    from (
        select
            stitched_user_id as user_id,
            event_type as last_activity_type,
            consent_personalization,
            row_number() over (partition by stitched_user_id order by occurred_at desc, event_id desc) as rn
        from events
    ) as ranked
    where rn = 1

),

sessions as (

    select
        user_id,
        count(*) as sessions,
        {{ exact_avg('duration_seconds', 3) }} as avg_session_duration_seconds,
        {{ exact_avg('engaged_seconds', 3) }} as avg_engaged_seconds
    from {{ ref('fct_sessions') }}
    where user_id is not null
    group by user_id

),

favourites as (

    select
        user_id,
        {%- for n in range(1, top_n + 1) %}
        max(case when category_rank = {{ n }} then category end) as favourite_category_{{ n }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('mart_category_preferences') }}
    where category_rank <= {{ top_n }}
    group by user_id

)

select
    a.user_id,
    a.first_seen_at,
    a.last_seen_at,
    a.last_seen_at as last_activity_at,
    l.last_activity_type,
    cast(coalesce(s.sessions, 0) as integer) as sessions,
    s.avg_session_duration_seconds,
    s.avg_engaged_seconds,
    cast(a.events as integer) as events,
    cast(a.page_views as integer) as page_views,
    cast(a.product_views as integer) as product_views,
    cast(a.cart_adds as integer) as cart_adds,
    cast(a.orders as integer) as orders,
    cast(a.purchase_lines as integer) as purchase_lines,
    cast(a.revenue_eur as double) as revenue_eur,
    cast(a.refunds_eur as double) as refunds_eur,
    case when a.orders > 0 then {{ ratio('a.revenue_eur', 'a.orders') }} end as average_order_value_eur,
    {%- for n in range(1, top_n + 1) %}
    f.favourite_category_{{ n }},
    {%- endfor %}
    l.consent_personalization as latest_consent_personalization
from activity as a
inner join last_event as l on a.user_id = l.user_id
left join sessions as s on a.user_id = s.user_id
left join favourites as f on a.user_id = f.user_id
