{#- The view -> cart -> (checkout ->) purchase funnel at one grain (`grain`: the column that defines a row, e.g.
    product_id or category; `carry`: extra columns taken as max() per grain).
    Steps count distinct visitors (stitched user, else device), and a later step only counts
    visitors who did the earlier one, so every rate is in [0, 1]. Checkout is a cart-level event
    (no product): a carter counts as checked out when the same visitor started a checkout at or
    after their first add-to-cart of the grain. Absolute counts (views, cart
    adds, purchase lines, units, revenue) are over all behavioural events. Shared by
    mart_product_funnel and mart_category_funnel so the two can never disagree on the rule. -#}
{% macro view_cart_purchase_funnel(grain, carry=[]) %}

with events as (

    select *
    from {{ ref('int_clickstream__events_stitched') }}
    where {{ grain }} is not null
      and event_type in ('product_view', 'add_to_cart', 'purchase')

),

checkouts as (

    select identity, max(occurred_at) as last_checkout_at
    from {{ ref('int_clickstream__events_stitched') }}
    where event_type = 'checkout_started'
    group by identity

),

per_visitor as (

    select
        e.{{ grain }},
        e.identity,
        max(case when e.event_type = 'product_view' then 1 else 0 end) = 1 as viewed,
        max(case when e.event_type = 'add_to_cart' then 1 else 0 end) = 1 as carted,
        max(case when e.event_type = 'purchase' then 1 else 0 end) = 1 as purchased,
        coalesce(
            max(c.last_checkout_at) >= min(case when e.event_type = 'add_to_cart' then e.occurred_at end), false
        ) as checked_out
    from events as e
    left join checkouts as c on e.identity = c.identity
    group by e.{{ grain }}, e.identity

),

steps as (

    select
        {{ grain }},
        sum(case when viewed then 1 else 0 end) as viewers,
        sum(case when viewed and carted then 1 else 0 end) as viewers_who_carted,
        sum(case when viewed and carted and checked_out then 1 else 0 end) as carters_who_checked_out,
        sum(case when viewed and carted and purchased then 1 else 0 end) as carters_who_purchased
    from per_visitor
    group by {{ grain }}

),

totals as (

    select
        {{ grain }},
        {%- for column in carry %}
        max({{ column }}) as {{ column }},
        {%- endfor %}
        sum(case when event_type = 'product_view' then 1 else 0 end) as views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as cart_adds,
        sum(case when event_type = 'purchase' then 1 else 0 end) as purchase_lines,
        sum(case when event_type = 'purchase' and not is_value_outlier then quantity else 0 end) as units_sold,
        coalesce(sum(case when event_type = 'purchase' then line_amount_eur end), 0) as revenue_eur
    from events
    group by {{ grain }}

)

select
    t.{{ grain }},
    {%- for column in carry %}
    t.{{ column }},
    {%- endfor %}
    cast(t.views as integer) as views,
    cast(t.cart_adds as integer) as cart_adds,
    cast(t.purchase_lines as integer) as purchase_lines,
    cast(t.units_sold as bigint) as units_sold,
    cast(t.revenue_eur as double) as revenue_eur,
    cast(s.viewers as integer) as viewers,
    cast(s.viewers_who_carted as integer) as viewers_who_carted,
    cast(s.carters_who_checked_out as integer) as carters_who_checked_out,
    cast(s.carters_who_purchased as integer) as carters_who_purchased,
    case when s.viewers > 0 then {{ ratio('s.viewers_who_carted', 's.viewers') }} end as view_to_cart_rate,
    case when s.viewers_who_carted > 0 then {{ ratio('s.carters_who_checked_out', 's.viewers_who_carted') }} end as cart_to_checkout_rate,
    case when s.viewers_who_carted > 0 then {{ ratio('s.carters_who_purchased', 's.viewers_who_carted') }} end as cart_to_purchase_rate,
    case when s.viewers > 0 then {{ ratio('s.carters_who_purchased', 's.viewers') }} end as view_to_purchase_rate
from totals as t
inner join steps as s on t.{{ grain }} = s.{{ grain }}

{% endmacro %}
