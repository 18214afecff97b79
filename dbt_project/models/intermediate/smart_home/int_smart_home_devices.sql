{#- One row per device of a home: its kind, room and what it measures. -#}
with readings as (
    select * from {{ ref('stg_sensor_readings') }}
),

latest_room as (
    select home_id, device_id, room
    from (
        select
            home_id, device_id, room,
            row_number() over (partition by home_id, device_id order by occurred_at desc, reading_id) as recency
        from readings
    ) ranked
    where recency = 1
)

select
    readings.home_id,
    readings.device_id,
    max(readings.device_kind) as device_kind,
    max(latest_room.room) as room,
    count(distinct readings.sensor_type) as sensor_type_count,
    max(case when readings.sensor_type = 'power' then 1 else 0 end) = 1 as has_power,
    max(case when readings.sensor_type = 'energy' then 1 else 0 end) = 1 as has_energy_meter,
    count(*) as reading_count,
    min(readings.occurred_at) as first_reading_at,
    max(readings.occurred_at) as last_reading_at
from readings
inner join latest_room
    on readings.home_id = latest_room.home_id and readings.device_id = latest_room.device_id
group by readings.home_id, readings.device_id
