{#- Expected next re-order date per household (home) and consumable category (rule: see YAML).

    Purchases are the consumable purchase lines of the home's linked shopper (int_smart_home_homes
    .user_id), one purchase per local day (quantities summed). For each completed interval between
    two purchases: its days and the device usage in it, per unit bought at its start. -#}
{%- set window_days = var('reorder_usage_window_days', 14) | int -%}
{%- set due_soon_days = var('reorder_due_soon_days', 7) | int -%}

with homes as (
    select home_id, user_id from {{ ref('int_smart_home_homes') }} where user_id is not null
),

purchases as (
    select
        homes.home_id,
        homes.user_id,
        purchases.category,
        purchases.purchase_date,
        cast(sum(purchases.quantity) as bigint) as units
    from {{ ref('stg_consumable_purchases') }} as purchases
    inner join homes on purchases.user_id = homes.user_id
    where purchases.purchase_date < {{ sh_reference_date() }}
    group by homes.home_id, homes.user_id, purchases.category, purchases.purchase_date
),

sequenced as (
    select
        purchases.*,
        lead(purchase_date) over (partition by home_id, category order by purchase_date) as next_purchase_date,
        row_number() over (partition by home_id, category order by purchase_date desc) as recency
    from purchases
),

usage_daily as (
    select * from {{ ref('int_consumable_usage_daily') }}
),

intervals as (
    select
        sequenced.home_id,
        sequenced.category,
        sequenced.purchase_date,
        sequenced.units,
        {{ dbt.datediff('sequenced.purchase_date', 'sequenced.next_purchase_date', 'day') }} as interval_days,
        coalesce(sum(usage.usage_units), 0) as interval_usage
    from sequenced
    left join usage_daily as usage
        on sequenced.home_id = usage.home_id and sequenced.category = usage.category
       and usage.local_date >= sequenced.purchase_date and usage.local_date < sequenced.next_purchase_date
    where sequenced.next_purchase_date is not null
    group by sequenced.home_id, sequenced.category, sequenced.purchase_date, sequenced.units,
             sequenced.next_purchase_date
),

history as (
    select
        home_id,
        category,
        count(*) as completed_intervals,
        cast(sum(interval_days) as double) / sum(units) as days_per_unit,
        sum(interval_usage) / sum(units) as usage_per_unit
    from intervals
    group by home_id, category
),

last_purchase as (
    select
        sequenced.home_id,
        sequenced.user_id,
        sequenced.category,
        sequenced.purchase_date as last_purchase_date,
        sequenced.units as last_units,
        {{ sh_reference_date() }} as reference_date
    from sequenced
    where recency = 1
),

counts as (
    select home_id, category, count(*) as purchase_count from purchases group by home_id, category
),

since_last as (
    select
        last_purchase.home_id,
        last_purchase.category,
        coalesce(sum(case when usage.local_date >= last_purchase.last_purchase_date
                          and usage.local_date < last_purchase.reference_date
                          then usage.usage_units end), 0) as usage_since_last_purchase,
        coalesce(sum(case when usage.local_date >= {{ sh_add_days(-window_days, 'last_purchase.reference_date') }}
                          and usage.local_date < last_purchase.reference_date
                          then usage.usage_units end), 0) / {{ window_days }}.0 as recent_daily_usage
    from last_purchase
    left join usage_daily as usage on last_purchase.home_id = usage.home_id and last_purchase.category = usage.category
    group by last_purchase.home_id, last_purchase.category
),

estimated as (
    select
        last_purchase.home_id,
        last_purchase.user_id,
        last_purchase.category,
        last_purchase.reference_date,
        counts.purchase_count,
        last_purchase.last_purchase_date,
        last_purchase.last_units,
        history.completed_intervals,
        history.days_per_unit,
        history.usage_per_unit,
        since_last.usage_since_last_purchase,
        since_last.recent_daily_usage,
        case when history.usage_per_unit > 0
            then history.usage_per_unit * last_purchase.last_units - since_last.usage_since_last_purchase
        end as usage_remaining,
        case when history.days_per_unit is not null
            then {{ sh_add_days('cast(round(history.days_per_unit * last_purchase.last_units) as integer)',
                                'last_purchase.last_purchase_date') }}
        end as interval_estimate_date
    from last_purchase
    inner join counts on last_purchase.home_id = counts.home_id and last_purchase.category = counts.category
    left join history on last_purchase.home_id = history.home_id and last_purchase.category = history.category
    left join since_last
        on last_purchase.home_id = since_last.home_id and last_purchase.category = since_last.category
),

with_usage_estimate as (
    select
        estimated.*,
        case when usage_remaining is not null and recent_daily_usage > 0
            then {{ sh_add_days('cast(floor(usage_remaining / recent_daily_usage) as integer)', 'reference_date') }}
        end as usage_estimate_date
    from estimated
),

final as (
    select
        with_usage_estimate.*,
        coalesce(usage_estimate_date, interval_estimate_date) as expected_reorder_date,
        case
            when usage_estimate_date is not null then 'device_usage'
            when interval_estimate_date is not null then 'purchase_interval'
            else 'insufficient_history'
        end as estimate_method
    from with_usage_estimate
)

select
    {{ dbt.hash(dbt.concat(['home_id', "'|'", 'category'])) }} as reorder_key,
    home_id,
    user_id,
    category,
    reference_date,
    purchase_count,
    last_purchase_date,
    last_units,
    completed_intervals,
    days_per_unit,
    usage_per_unit,
    usage_since_last_purchase,
    recent_daily_usage,
    usage_remaining,
    interval_estimate_date,
    usage_estimate_date,
    expected_reorder_date,
    estimate_method,
    case
        when expected_reorder_date is null then 'unknown'
        when expected_reorder_date < reference_date then 'overdue'
        when expected_reorder_date < {{ sh_add_days(due_soon_days, 'reference_date') }} then 'due_soon'
        else 'later'
    end as reorder_status,
    case when expected_reorder_date is not null
        then {{ dbt.datediff('reference_date', 'expected_reorder_date', 'day') }} end as days_until_reorder
from final
