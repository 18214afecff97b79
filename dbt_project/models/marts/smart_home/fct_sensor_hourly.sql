{#- Hourly aggregates per home, room, device and sensor type.

    Every sensor: reading count, mean, min and max of the value in the hour.
    Binary sensors (motion, door, occupancy) also: readings with value 1 (events), off-to-on
    transitions, and the time-weighted share of the observed time the state was on (a state carried
    over from an earlier reading counts, see int_binary_state_hours). An hour in which a binary
    sensor sent nothing but whose state was known has reading_count 0 and null value stats. -#}
with readings as (
    select
        staged.*,
        lag(value) over (partition by home_id, device_id, sensor_type order by occurred_at, reading_id) as prev_value
    from {{ ref('stg_sensor_readings') }} as staged
),

reading_hours as (
    select
        home_id, room, device_id, sensor_type, hour_start,
        max(device_kind) as device_kind,
        max(unit) as unit,
        max(tz_offset_minutes) as tz_offset_minutes,
        count(*) as reading_count,
        avg(value) as value_mean,
        min(value) as value_min,
        max(value) as value_max,
        cast(sum(case when is_binary and value = 1 then 1 else 0 end) as bigint) as on_readings,
        cast(sum(case when is_binary and value = 1 and coalesce(prev_value, 0) = 0 then 1 else 0 end) as bigint)
            as on_transitions
    from readings
    group by home_id, room, device_id, sensor_type, hour_start
),

state_hours as (
    select * from {{ ref('int_binary_state_hours') }}
),

keys as (
    select home_id, room, device_id, sensor_type, hour_start from reading_hours
    union
    select home_id, room, device_id, sensor_type, hour_start from state_hours
),

devices as (
    select home_id, device_id, device_kind from {{ ref('int_smart_home_devices') }}
)

select
    {{ dbt.hash(dbt.concat(['keys.home_id', "'|'", 'keys.room', "'|'", 'keys.device_id', "'|'", 'keys.sensor_type',
                            "'|'", 'cast(keys.hour_start as ' ~ dbt.type_string() ~ ')'])) }} as sensor_hour_key,
    keys.home_id,
    keys.room,
    keys.device_id,
    devices.device_kind,
    keys.sensor_type,
    coalesce(reading_hours.unit, case when keys.sensor_type in ('motion', 'door', 'occupancy') then 'bool' end) as unit,
    keys.hour_start,
    coalesce(reading_hours.tz_offset_minutes, state_hours.tz_offset_minutes, 0) as tz_offset_minutes,
    {{ sh_local('keys.hour_start', 'coalesce(reading_hours.tz_offset_minutes, state_hours.tz_offset_minutes, 0)') }}
        as local_hour_start,
    cast(keys.hour_start as date) as event_date,
    keys.sensor_type in ('motion', 'door', 'occupancy') as is_binary,
    coalesce(reading_hours.reading_count, 0) as reading_count,
    reading_hours.value_mean,
    reading_hours.value_min,
    reading_hours.value_max,
    case when keys.sensor_type in ('motion', 'door', 'occupancy')
        then coalesce(reading_hours.on_readings, 0) end as on_events,
    case when keys.sensor_type in ('motion', 'door', 'occupancy')
        then coalesce(reading_hours.on_transitions, 0) end as on_transitions,
    state_hours.on_seconds,
    state_hours.observed_seconds,
    case when state_hours.observed_seconds > 0
        then state_hours.on_seconds / state_hours.observed_seconds end as share_on
from keys
left join reading_hours
    on keys.home_id = reading_hours.home_id and keys.device_id = reading_hours.device_id
   and keys.sensor_type = reading_hours.sensor_type and keys.hour_start = reading_hours.hour_start
   and keys.room = reading_hours.room
left join state_hours
    on keys.home_id = state_hours.home_id and keys.device_id = state_hours.device_id
   and keys.sensor_type = state_hours.sensor_type and keys.hour_start = state_hours.hour_start
   and keys.room = state_hours.room
left join devices
    on keys.home_id = devices.home_id and keys.device_id = devices.device_id
