{#- Per stitched user and category: interactions (product views, wishlist and cart adds,
    purchases), their share of the user's interactions, a recency-weighted score (each interaction
    weighs 2^(-age_days / interaction_half_life_days) at reference_date) and the rank of that score
    (1 = favourite; ties broken by category name). Events after reference_date are ignored. -#}

with interactions as (

    select
        stitched_user_id as user_id,
        category,
        {{ beacon_decay('occurred_at') }} as decay
    from {{ ref('int_clickstream__events_stitched') }}
    where stitched_user_id is not null
      and category is not null
      and event_type in ('product_view', 'add_to_wishlist', 'add_to_cart', 'purchase')
      and cast(occurred_at as date) <= {{ beacon_date(var('reference_date')) }}

),

per_category as (

    {#- rounded (as in mart_user_product_affinity) so that rebuilds and engines agree exactly whatever the
        order of the parallel sum, and equal scores tie (then ranked by interactions and name) -#}
    select user_id, category, count(*) as interactions, round(sum(decay), 9) as recency_weighted_interactions
    from interactions
    group by user_id, category

)

select
    user_id,
    category,
    cast(interactions as integer) as interactions,
    {{ ratio('interactions', 'sum(interactions) over (partition by user_id)') }} as interaction_share,
    recency_weighted_interactions,
    cast(row_number() over (
        partition by user_id order by recency_weighted_interactions desc, interactions desc, category
    ) as integer) as category_rank
from per_category
