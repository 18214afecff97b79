{#- Power readings of every device, with how long each reading holds and which appliance cycle it
    belongs to (gaps and islands).

    - A reading holds from its instant until the device's next reading (power sensors report on
      change), at most var('appliance_max_gap_minutes') for an on reading (a silent hole ends a
      cycle) and at most var('appliance_idle_max_hold_minutes') for an off (standby) reading; the
      device's last reading holds 0 s (no evidence after it).
    - A reading is "on" when its power is above var('appliance_on_watts').
    - A cycle starts at an on reading whose previous reading was off, absent, or further back than
      the max gap (a data hole ends a cycle). The running sum of starts numbers the cycles. -#}
{%- set on_watts = var('appliance_on_watts', 10) -%}
{%- set max_gap_s = var('appliance_max_gap_minutes', 45) | int * 60 -%}
{%- set idle_max_s = var('appliance_idle_max_hold_minutes', 1440) | int * 60 -%}

with readings as (
    select
        reading_id, home_id, room, device_id, device_kind, occurred_at, local_at, tz_offset_minutes,
        value as watts,
        lag(occurred_at) over (partition by home_id, device_id order by occurred_at, reading_id) as prev_at,
        lag(value) over (partition by home_id, device_id order by occurred_at, reading_id) as prev_watts,
        lead(occurred_at) over (partition by home_id, device_id order by occurred_at, reading_id) as next_at
    from {{ ref('stg_sensor_readings') }}
    where sensor_type = 'power'
),

flagged as (
    select
        readings.*,
        case
            when next_at is null then 0.0
            when watts > {{ on_watts }} and {{ sh_seconds_between('occurred_at', 'next_at') }} > {{ max_gap_s }}
                then {{ max_gap_s }}.0
            when watts <= {{ on_watts }} and {{ sh_seconds_between('occurred_at', 'next_at') }} > {{ idle_max_s }}
                then {{ idle_max_s }}.0
            else {{ sh_seconds_between('occurred_at', 'next_at') }}
        end as hold_seconds,
        watts > {{ on_watts }} as is_on,
        case
            when watts > {{ on_watts }}
             and (prev_at is null
                  or prev_watts <= {{ on_watts }}
                  or {{ sh_seconds_between('prev_at', 'occurred_at') }} > {{ max_gap_s }})
                then 1
            else 0
        end as starts_cycle
    from readings
),

numbered as (
    select
        flagged.*,
        cast(sum(starts_cycle) over (
            partition by home_id, device_id order by occurred_at, reading_id
            rows between unbounded preceding and current row
        ) as bigint) as cycle_number
    from flagged
)

select
    reading_id,
    home_id,
    room,
    device_id,
    device_kind,
    occurred_at,
    local_at,
    cast(local_at as date) as local_date,
    tz_offset_minutes,
    watts,
    hold_seconds,
    watts * hold_seconds / 3600.0 as energy_wh,
    is_on,
    starts_cycle = 1 as starts_cycle,
    case when is_on then cycle_number end as cycle_number
from numbered
