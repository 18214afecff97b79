{#- Behavioural segments per stitched user; a user can be in several. Thresholds are vars:
    frequent_buyer      orders >= frequent_buyer_min_orders
    cart_abandoner      abandoned-cart sessions >= cart_abandoner_min_abandoned_sessions
    content_explorer    product views >= content_explorer_min_product_views AND distinct categories
                        viewed >= content_explorer_min_categories
    new_visitor         first seen at most new_visitor_max_days_since_first_seen days before reference_date
    high_engagement     average engaged seconds per session >= high_engagement_min_avg_engaged_seconds -#}

with users as (

    select * from {{ ref('dim_users') }}

),

sessions as (

    select
        user_id,
        sum(case when is_abandoned_cart then 1 else 0 end) as abandoned_cart_sessions
    from {{ ref('fct_sessions') }}
    where user_id is not null
    group by user_id

),

categories as (

    select stitched_user_id as user_id, count(distinct category) as categories_viewed
    from {{ ref('int_clickstream__events_stitched') }}
    where stitched_user_id is not null and event_type = 'product_view' and category is not null
    group by stitched_user_id

),

measures as (

    select
        u.user_id,
        u.orders,
        cast(coalesce(s.abandoned_cart_sessions, 0) as integer) as abandoned_cart_sessions,
        u.product_views,
        cast(coalesce(c.categories_viewed, 0) as integer) as categories_viewed,
        cast({{ dbt.datediff('cast(u.first_seen_at as date)', beacon_date(var('reference_date')), 'day') }} as integer)
            as days_since_first_seen,
        coalesce(u.avg_engaged_seconds, 0) as avg_engaged_seconds
    from users as u
    left join sessions as s on u.user_id = s.user_id
    left join categories as c on u.user_id = c.user_id

)

select
    *,
    orders >= {{ var('frequent_buyer_min_orders') }} as is_frequent_buyer,
    abandoned_cart_sessions >= {{ var('cart_abandoner_min_abandoned_sessions') }} as is_cart_abandoner,
    product_views >= {{ var('content_explorer_min_product_views') }}
        and categories_viewed >= {{ var('content_explorer_min_categories') }} as is_content_explorer,
    days_since_first_seen <= {{ var('new_visitor_max_days_since_first_seen') }} as is_new_visitor,
    avg_engaged_seconds >= {{ var('high_engagement_min_avg_engaged_seconds') }} as is_high_engagement
from measures
