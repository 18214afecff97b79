{{ config(materialized='view') }}
{#- Behavioural events (no bots, with analytics consent) with the stitched user: the event's own
    user_id, else the user its device logged in as (int_clickstream__identity_map), else null.
    `identity` (stitched user, else device) is the unit of per-visitor counts. -#}

select
    e.event_id,
    e.event_type,
    e.occurred_at,
    e.event_date,
    e.anonymous_id,
    e.user_id as event_user_id,
    coalesce(e.user_id, m.user_id) as stitched_user_id,
    coalesce(e.user_id, m.user_id, e.anonymous_id) as identity,
    e.product_id,
    e.category,
    e.price,
    e.quantity,
    e.currency,
    e.order_id,
    e.line_amount_eur,
    e.is_value_outlier,
    e.engaged_seconds_capped,
    e.consent_personalization,
    e.experiment_id,
    e.variant
from {{ ref('stg_clickstream__events') }} as e
left join {{ ref('int_clickstream__identity_map') }} as m
    on e.anonymous_id = m.anonymous_id
where e.is_behavioural
