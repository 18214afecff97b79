{#- The recommender's input: one row per (user, product) with an implicit-feedback weight
        weight = sum over interactions of type_weight * 2^(-age_days / interaction_half_life_days)
    type weights (vars): view interaction_weight_view < wishlist interaction_weight_wishlist
    < cart interaction_weight_cart < purchase interaction_weight_purchase.
    Only users whose LATEST event carries consent_personalization = true are included: a user who
    withdrew personalisation consent disappears from the matrix at the next build. -#}

with events as (

    select *
    from {{ ref('int_clickstream__events_stitched') }}
    where stitched_user_id is not null
      and cast(occurred_at as date) <= {{ beacon_date(var('reference_date')) }}

),

consenting_users as (

    select user_id
    from (
        select
            stitched_user_id as user_id,
            consent_personalization,
            row_number() over (partition by stitched_user_id order by occurred_at desc, event_id desc) as rn
        from events
    ) as latest
    where rn = 1 and consent_personalization

),

weighted as (

    select
        e.stitched_user_id as user_id,
        e.product_id,
        e.event_type,
        e.occurred_at,
        case e.event_type
            when 'product_view' then {{ var('interaction_weight_view') }}
            when 'add_to_wishlist' then {{ var('interaction_weight_wishlist') }}
            when 'add_to_cart' then {{ var('interaction_weight_cart') }}
            when 'purchase' then {{ var('interaction_weight_purchase') }}
        end * {{ beacon_decay('e.occurred_at') }} as weight
    from events as e
    inner join consenting_users as c on e.stitched_user_id = c.user_id
    where e.product_id is not null
      and e.event_type in ('product_view', 'add_to_wishlist', 'add_to_cart', 'purchase')

)

select
    user_id,
    product_id,
    {#- rounded: a parallel sum of doubles depends on the order of its terms, and a rebuild must
        reproduce the table exactly (incremental == full refresh) -#}
    cast(round(sum(weight), 9) as double) as weight,
    cast(sum(case when event_type = 'product_view' then 1 else 0 end) as integer) as views,
    cast(sum(case when event_type = 'add_to_wishlist' then 1 else 0 end) as integer) as wishlist_adds,
    cast(sum(case when event_type = 'add_to_cart' then 1 else 0 end) as integer) as cart_adds,
    cast(sum(case when event_type = 'purchase' then 1 else 0 end) as integer) as purchases,
    max(occurred_at) as last_interaction_at
from weighted
group by user_id, product_id
