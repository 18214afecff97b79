{#- One row per home: the shopper account linked to it (the latest non-null user_id) and its
    latest UTC offset. The user_id link is what joins device usage to purchases. -#}
with readings as (
    select * from {{ ref('stg_sensor_readings') }}
),

latest_user as (
    select home_id, user_id
    from (
        select
            home_id, user_id,
            row_number() over (partition by home_id order by occurred_at desc, reading_id) as recency
        from readings
        where user_id is not null
    ) ranked
    where recency = 1
),

latest_offset as (
    select home_id, tz_offset_minutes
    from (
        select
            home_id, tz_offset_minutes,
            row_number() over (partition by home_id order by occurred_at desc, reading_id) as recency
        from readings
    ) ranked
    where recency = 1
),

summary as (
    select
        home_id,
        count(*) as reading_count,
        count(distinct device_id) as device_count,
        count(distinct room) as room_count,
        min(occurred_at) as first_reading_at,
        max(occurred_at) as last_reading_at
    from readings
    group by home_id
)

select
    summary.home_id,
    latest_user.user_id,
    latest_offset.tz_offset_minutes,
    summary.reading_count,
    summary.device_count,
    summary.room_count,
    summary.first_reading_at,
    summary.last_reading_at
from summary
left join latest_user on summary.home_id = latest_user.home_id
left join latest_offset on summary.home_id = latest_offset.home_id
