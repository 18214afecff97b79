{#- Inferred occupancy per room and hour (rule and thresholds: see the model's YAML).

    Grid: every room of a home that has a motion, presence (occupancy), CO2 or light sensor, times
    every hour in which the home sent any reading at all (a motion sensor that only reports
    movement is silent in an empty hour, and that silence is evidence). Outdoor is not a room. -#}
{%- set motion_min = var('occupancy_motion_min_events', 1) -%}
{%- set presence_min_s = var('occupancy_presence_min_seconds', 300) -%}
{%- set co2_above = var('occupancy_co2_above_baseline_ppm', 150) -%}
{%- set co2_max_fall = var('occupancy_co2_max_fall_ppm', 50) -%}
{%- set baseline_hours = var('occupancy_co2_baseline_hours', 24) | int -%}
{%- set light_lux = var('occupancy_light_on_lux', 50) -%}
{%- set dark_start = var('occupancy_dark_start_hour', 17) -%}
{%- set dark_end = var('occupancy_dark_end_hour', 7) -%}

with hourly as (
    select * from {{ ref('fct_sensor_hourly') }}
),

rooms as (
    select distinct home_id, room
    from hourly
    where sensor_type in ('motion', 'occupancy', 'co2', 'light') and room <> 'outdoor'
),

home_hours as (
    select home_id, hour_start, max(tz_offset_minutes) as tz_offset_minutes
    from hourly
    where reading_count > 0
    group by home_id, hour_start
),

grid as (
    select rooms.home_id, rooms.room, home_hours.hour_start, home_hours.tz_offset_minutes
    from rooms
    inner join home_hours on rooms.home_id = home_hours.home_id
),

room_signals as (
    select
        home_id, room, hour_start,
        cast(sum(case when sensor_type = 'motion' then on_events else 0 end) as bigint) as motion_events,
        max(case when sensor_type = 'occupancy' then on_events end) as presence_events,
        max(case when sensor_type = 'occupancy' then on_seconds end) as presence_on_seconds,
        avg(case when sensor_type = 'co2' then value_mean end) as co2_ppm,
        max(case when sensor_type = 'light' then value_mean end) as light_lux
    from hourly
    group by home_id, room, hour_start
),

joined as (
    select
        grid.home_id,
        grid.room,
        grid.hour_start,
        grid.tz_offset_minutes,
        {{ sh_local('grid.hour_start', 'grid.tz_offset_minutes') }} as local_hour_start,
        coalesce(room_signals.motion_events, 0) as motion_events,
        room_signals.presence_events,
        room_signals.presence_on_seconds,
        room_signals.co2_ppm,
        room_signals.light_lux
    from grid
    left join room_signals
        on grid.home_id = room_signals.home_id and grid.room = room_signals.room
       and grid.hour_start = room_signals.hour_start
),

with_context as (
    select
        joined.*,
        {{ sh_hour_of_day('local_hour_start') }} as local_hour,
        min(co2_ppm) over (
            partition by home_id, room order by hour_start
            rows between {{ baseline_hours - 1 }} preceding and {{ baseline_hours }} following
        ) as co2_baseline_ppm,
        lag(co2_ppm) over (partition by home_id, room order by hour_start) as prev_co2_ppm,
        lag(hour_start) over (partition by home_id, room order by hour_start) as prev_hour_start
    from joined
),

signals as (
    select
        with_context.*,
        motion_events >= {{ motion_min }} as motion_signal,
        coalesce(presence_events > 0 or presence_on_seconds >= {{ presence_min_s }}, false) as presence_signal,
        coalesce(
            co2_ppm - co2_baseline_ppm >= {{ co2_above }}
            and (
                prev_co2_ppm is null
                or {{ dbt.datediff('prev_hour_start', 'hour_start', 'hour') }} <> 1
                or co2_ppm - prev_co2_ppm >= -{{ co2_max_fall }}
            ),
            false
        ) as co2_signal,
        coalesce(
            light_lux >= {{ light_lux }} and {{ sh_hour_in_window('local_hour', dark_start, dark_end) }},
            false
        ) as light_signal
    from with_context
)

select
    {{ dbt.hash(dbt.concat(['home_id', "'|'", 'room', "'|'", 'cast(hour_start as ' ~ dbt.type_string() ~ ')'])) }}
        as room_hour_key,
    home_id,
    room,
    hour_start,
    cast(hour_start as date) as event_date,
    tz_offset_minutes,
    local_hour_start,
    local_hour,
    motion_events,
    co2_ppm,
    co2_baseline_ppm,
    prev_co2_ppm,
    light_lux,
    presence_on_seconds,
    motion_signal,
    presence_signal,
    co2_signal,
    light_signal,
    (case when motion_signal then 1 else 0 end) + (case when presence_signal then 1 else 0 end)
        + (case when co2_signal then 1 else 0 end) + (case when light_signal then 1 else 0 end) as signal_count,
    motion_signal or presence_signal or co2_signal or light_signal as is_occupied
from signals
