{#- Per stitched user and product: how much of the user's attention the product got.
    interactions          product views, wishlist adds, cart adds and purchase lines
    interaction_share     interactions / all the user's product interactions
    recency_weighted      sum of 2^(-age_days / interaction_half_life_days) at reference_date
    affinity_score        ln(1 + recency_weighted) / the user's sum of ln(1 + recency_weighted):
                          log-scaling damps repeated views, the share makes users comparable
                          (scores of one user sum to 1). Events after reference_date are ignored. -#}

with interactions as (

    select
        stitched_user_id as user_id,
        product_id,
        category,
        occurred_at,
        {{ beacon_decay('occurred_at') }} as decay
    from {{ ref('int_clickstream__events_stitched') }}
    where stitched_user_id is not null
      and product_id is not null
      and event_type in ('product_view', 'add_to_wishlist', 'add_to_cart', 'purchase')
      and cast(occurred_at as date) <= {{ beacon_date(var('reference_date')) }}

),

per_product as (

    select
        user_id,
        product_id,
        max(category) as category,
        count(*) as interactions,
        {#- rounded so that rebuilds are exact whatever the order of the parallel sum -#}
        round(sum(decay), 9) as recency_weighted_interactions,
        max(occurred_at) as last_interaction_at
    from interactions
    group by user_id, product_id

)

select
    user_id,
    product_id,
    category,
    cast(interactions as integer) as interactions,
    {{ ratio('interactions', 'sum(interactions) over (partition by user_id)') }} as interaction_share,
    recency_weighted_interactions,
    ln(1 + recency_weighted_interactions)
        / sum(ln(1 + recency_weighted_interactions)) over (partition by user_id) as affinity_score,
    last_interaction_at
from per_product
