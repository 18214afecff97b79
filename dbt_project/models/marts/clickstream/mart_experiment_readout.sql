{#- Inputs for an experiment readout, per experiment and variant: visitors (stitched user, else
    device) and sessions exposed (a session belongs to the experiment of its first tagged event),
    converting sessions and visitors (a purchase in an exposed session), orders and revenue.
    Significance tests belong to the readout itself; these are its sufficient statistics. -#}

select
    experiment_id,
    variant,
    cast(count(distinct identity) as integer) as visitors,
    cast(count(*) as integer) as sessions,
    cast(sum(case when purchased then 1 else 0 end) as integer) as converting_sessions,
    cast(count(distinct case when purchased then identity end) as integer) as converted_visitors,
    cast(sum(orders) as integer) as orders,
    {{ exact_sum('revenue_eur', 4) }} as revenue_eur,
    {{ ratio('count(distinct case when purchased then identity end)', 'count(distinct identity)') }} as visitor_conversion_rate,
    {{ exact_sum('revenue_eur', 4) }} / count(distinct identity) as revenue_per_visitor_eur
from {{ ref('fct_sessions') }}
where experiment_id is not null
group by experiment_id, variant
