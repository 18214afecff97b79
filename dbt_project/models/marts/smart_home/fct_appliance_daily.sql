{#- Per device and local day: cycles, on time, duty cycle and energy from its power readings.

    duty_cycle = on seconds / observed seconds (the holding time of all its readings that day; a
    reading's holding time counts on the day it was taken). Cycles count on the day they start. -#}
with readings as (
    select * from {{ ref('int_power_readings') }}
),

daily as (
    select
        home_id,
        device_id,
        local_date,
        max(room) as room,
        max(device_kind) as device_kind,
        count(*) as reading_count,
        sum(hold_seconds) as observed_seconds,
        sum(case when is_on then hold_seconds else 0 end) as on_seconds,
        sum(energy_wh) as energy_wh,
        sum(case when is_on then energy_wh else 0 end) as cycle_energy_wh
    from readings
    group by home_id, device_id, local_date
),

cycles as (
    select
        home_id, device_id, local_date,
        count(*) as cycles,
        avg(energy_wh) as mean_energy_per_cycle_wh,
        avg(duration_seconds) / 60.0 as mean_cycle_minutes
    from {{ ref('fct_appliance_cycles') }}
    group by home_id, device_id, local_date
)

select
    daily.home_id,
    daily.device_id,
    daily.device_kind,
    daily.room,
    daily.local_date,
    daily.reading_count,
    coalesce(cycles.cycles, 0) as cycles,
    daily.on_seconds,
    daily.observed_seconds,
    case when daily.observed_seconds > 0 then daily.on_seconds / daily.observed_seconds end as duty_cycle,
    daily.energy_wh,
    daily.cycle_energy_wh,
    cycles.mean_energy_per_cycle_wh,
    cycles.mean_cycle_minutes
from daily
left join cycles
    on daily.home_id = cycles.home_id and daily.device_id = cycles.device_id
   and daily.local_date = cycles.local_date
