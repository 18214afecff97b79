{#- Time a binary sensor (motion, door, occupancy) spent on, per hour.

    A reading's state holds from its instant until the device's next reading, but at most
    var('binary_state_max_hold_minutes') (a silent device is not trusted for longer; the last
    reading of a device also holds for that long). Each state interval is cut at hour boundaries
    with a small series of hour offsets (an interval spans at most ceil(hold / 60) + 1 hours), so
    a state carried over from the previous hour counts in the hour it covers. -#}
{%- set max_hold = var('binary_state_max_hold_minutes', 60) | int -%}
{%- set max_hours = ((max_hold + 59) // 60) + 1 -%}

with readings as (
    select
        home_id, room, device_id, sensor_type, occurred_at, value, tz_offset_minutes,
        lead(occurred_at) over (
            partition by home_id, device_id, sensor_type order by occurred_at, reading_id
        ) as next_at
    from {{ ref('stg_sensor_readings') }}
    where is_binary
),

intervals as (
    select
        home_id, room, device_id, sensor_type, value, tz_offset_minutes,
        occurred_at as state_start,
        case
            when next_at is null
              or {{ sh_seconds_between('occurred_at', 'next_at') }} > {{ max_hold * 60 }}
                then {{ dbt.dateadd('minute', max_hold, 'occurred_at') }}
            else next_at
        end as state_end,
        {{ dbt.date_trunc('hour', 'occurred_at') }} as first_hour
    from readings
),

hour_offsets as (
    select generated_number - 1 as hour_offset
    from ({{ dbt.generate_series(max_hours) }}) series
),

pieces as (
    select
        intervals.*,
        {{ dbt.dateadd('hour', 'hour_offsets.hour_offset', 'intervals.first_hour') }} as hour_start
    from intervals
    cross join hour_offsets
),

clipped as (
    select
        home_id, room, device_id, sensor_type, value, tz_offset_minutes, hour_start,
        case when state_start > hour_start then state_start else hour_start end as piece_start,
        case
            when state_end < {{ dbt.dateadd('hour', 1, 'hour_start') }} then state_end
            else {{ dbt.dateadd('hour', 1, 'hour_start') }}
        end as piece_end
    from pieces
)

select
    home_id,
    room,
    device_id,
    sensor_type,
    hour_start,
    max(tz_offset_minutes) as tz_offset_minutes,
    sum(case when value = 1 then {{ sh_seconds_between('piece_start', 'piece_end') }} else 0 end) as on_seconds,
    sum({{ sh_seconds_between('piece_start', 'piece_end') }}) as observed_seconds
from clipped
where piece_end > piece_start
group by home_id, room, device_id, sensor_type, hour_start
