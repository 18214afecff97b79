{#- Daily use of each consumable per home, in the consumable's usage measure (see the
    sh_consumables macro / var('smart_home_consumables')): appliance cycles, appliance runtime
    hours, or binary sensor activations of the device kinds that use it up. -#}
with mapping as (
    {{ sh_consumable_device_rows() }}
),

cycle_usage as (
    select
        cycles.home_id,
        mapping.category,
        cycles.local_date,
        cast(count(*) as double) as usage_units
    from {{ ref('fct_appliance_cycles') }} as cycles
    inner join mapping on cycles.device_kind = mapping.device_kind and mapping.measure = 'cycles'
    group by cycles.home_id, mapping.category, cycles.local_date
),

-- runtime per local day from the readings (a long heating cycle spreads over the days it covers)
runtime_usage as (
    select
        daily.home_id,
        mapping.category,
        daily.local_date,
        sum(daily.on_seconds) / 3600.0 as usage_units
    from {{ ref('fct_appliance_daily') }} as daily
    inner join mapping on daily.device_kind = mapping.device_kind and mapping.measure = 'runtime_hours'
    group by daily.home_id, mapping.category, daily.local_date
),

activation_usage as (
    select
        readings.home_id,
        mapping.category,
        cast(readings.local_at as date) as local_date,
        cast(count(*) as double) as usage_units
    from {{ ref('stg_sensor_readings') }} as readings
    inner join mapping
        on readings.device_kind = mapping.device_kind and mapping.measure = 'activations'
    where readings.is_binary and readings.value = 1
    group by readings.home_id, mapping.category, cast(readings.local_at as date)
),

unioned as (
    select * from cycle_usage
    union all
    select * from runtime_usage
    union all
    select * from activation_usage
)

select
    home_id,
    category,
    local_date,
    sum(usage_units) as usage_units
from unioned
group by home_id, category, local_date
