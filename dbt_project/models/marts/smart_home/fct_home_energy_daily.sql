{#- Energy per home and local day, from power and energy sensors, without double counting.

    - Energy meters (sensor_type energy, Wh): with var('energy_meter_cumulative') true (default,
      a home hub's total_increasing meter) a device's consumption is the sum of its positive
      differences between consecutive readings (a drop is a meter reset: the new reading counts
      from 0); with false, each reading is the Wh used since the previous one and is summed.
      Consumption counts on the local day of the later reading.
    - Power sensors (W): power x holding time (int_power_readings), for devices WITHOUT an energy
      meter only (a smart plug reporting both would otherwise count twice). -#}
{%- set cumulative = var('energy_meter_cumulative', true) -%}

with meter_readings as (
    select
        home_id, device_id, local_at, value,
        lag(value) over (partition by home_id, device_id order by occurred_at, reading_id) as prev_value
    from {{ ref('stg_sensor_readings') }}
    where sensor_type = 'energy'
),

meter_daily as (
    select
        home_id,
        cast(local_at as date) as local_date,
        {%- if cumulative %}
        sum(case
            when prev_value is null then 0
            when value >= prev_value then value - prev_value
            else value
        end) as meter_wh,
        {%- else %}
        sum(value) as meter_wh,
        {%- endif %}
        count(distinct device_id) as meter_devices
    from meter_readings
    group by home_id, cast(local_at as date)
),

metered_devices as (
    select home_id, device_id from {{ ref('int_smart_home_devices') }} where has_energy_meter
),

power_daily as (
    select
        power.home_id,
        power.local_date,
        sum(power.energy_wh) as power_wh,
        count(distinct power.device_id) as power_devices
    from {{ ref('int_power_readings') }} as power
    left join metered_devices
        on power.home_id = metered_devices.home_id and power.device_id = metered_devices.device_id
    where metered_devices.device_id is null
    group by power.home_id, power.local_date
),

days as (
    select home_id, local_date from meter_daily
    union
    select home_id, local_date from power_daily
)

select
    days.home_id,
    days.local_date,
    coalesce(meter_daily.meter_wh, 0) + coalesce(power_daily.power_wh, 0) as energy_wh,
    (coalesce(meter_daily.meter_wh, 0) + coalesce(power_daily.power_wh, 0)) / 1000.0 as energy_kwh,
    coalesce(meter_daily.meter_wh, 0) as from_energy_meters_wh,
    coalesce(power_daily.power_wh, 0) as from_power_sensors_wh,
    coalesce(meter_daily.meter_devices, 0) as metered_devices,
    coalesce(power_daily.power_devices, 0) as power_devices
from days
left join meter_daily on days.home_id = meter_daily.home_id and days.local_date = meter_daily.local_date
left join power_daily on days.home_id = power_daily.home_id and days.local_date = power_daily.local_date
