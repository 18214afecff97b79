{#- Device sessions with the stitched user: the session's own first identified user, else the
    user its device logged in as (so visits before the first login count for that user). A table
    over the incremental int_clickstream__sessions, so later logins re-attribute older sessions. -#}

select
    s.session_id,
    coalesce(s.session_user_id, m.user_id) as user_id,
    s.anonymous_id,
    coalesce(s.session_user_id, m.user_id, s.anonymous_id) as identity,
    coalesce(s.session_user_id, m.user_id) is not null as is_identified,
    s.session_start_at,
    s.session_end_at,
    s.session_date,
    s.duration_seconds,
    s.engaged_seconds,
    s.has_capped_engagement,
    s.events,
    s.page_views,
    s.product_views,
    s.page_pings,
    s.max_scroll_depth_pct,
    s.searches,
    s.cart_adds,
    s.cart_removes,
    s.wishlist_adds,
    s.checkout_started,
    s.purchased,
    s.orders,
    s.revenue_eur,
    s.has_value_outlier,
    s.is_abandoned_cart,
    s.is_bounce,
    s.landing_page_url,
    s.landing_referrer,
    s.referrer_channel,
    s.device_type,
    s.country,
    s.tz_offset_minutes,
    s.local_start_hour,
    s.local_start_weekday,
    s.experiment_id,
    s.variant
from {{ ref('int_clickstream__sessions') }} as s
left join {{ ref('int_clickstream__identity_map') }} as m
    on s.anonymous_id = m.anonymous_id
