{#- One row per appliance cycle: a maximal run of consecutive power readings of one device above
    var('appliance_on_watts') (gaps and islands in int_power_readings). It lasts from its first on
    reading until the reading after its last one (each reading holds until the next, at most
    var('appliance_max_gap_minutes')), and its energy is the sum of power x holding time. -#}
with on_readings as (
    select * from {{ ref('int_power_readings') }}
    where is_on
),

cycles as (
    select
        home_id,
        device_id,
        cycle_number,
        max(room) as room,
        max(device_kind) as device_kind,
        min(occurred_at) as cycle_start,
        min(local_at) as local_start,
        max(tz_offset_minutes) as tz_offset_minutes,
        sum(hold_seconds) as duration_seconds,
        sum(energy_wh) as energy_wh,
        max(watts) as peak_watts,
        count(*) as reading_count
    from on_readings
    group by home_id, device_id, cycle_number
)

select
    {{ dbt.hash(dbt.concat(['home_id', "'|'", 'device_id', "'|'", 'cast(cycle_start as ' ~ dbt.type_string() ~ ')'])) }}
        as cycle_id,
    home_id,
    room,
    device_id,
    device_kind,
    cycle_number,
    cycle_start,
    {#- seconds, not milliseconds: an INTERVAL counts in 32 bits and a heater's cycle can last weeks -#}
    {{ dbt.dateadd('second', 'cast(round(duration_seconds) as bigint)', 'cycle_start') }} as cycle_end,
    local_start,
    cast(local_start as date) as local_date,
    cast(cycle_start as date) as event_date,
    duration_seconds,
    duration_seconds / 60.0 as duration_minutes,
    energy_wh,
    case when duration_seconds > 0 then energy_wh * 3600.0 / duration_seconds end as mean_watts,
    peak_watts,
    reading_count
from cycles
