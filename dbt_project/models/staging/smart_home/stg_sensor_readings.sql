{#- One row per sensor reading, de-duplicated, in canonical units, with UTC and local time.
    Reads the bronze Delta table (a view that only lives inside the dbt process), hence a table. -#}
with source as (
    select * from {{ source('bronze', 'sensor_readings') }}
),

ranked as (
    select
        source.*,
        row_number() over (partition by reading_id order by _landed_at desc, _source_file, _source_line) as copy_rank
    from source
),

typed as (
    select
        reading_id,
        home_id,
        user_id,
        device_id,
        {{ dbt.split_part('device_id', "'-'", 1) }} as device_kind,
        room,
        sensor_type,
        -- canonical unit per sensor type (the contract's first unit); pressure may come in mmHg
        case when sensor_type = 'pressure' and unit = 'mmHg' then value * 1.333224 else value end as value,
        case when sensor_type = 'pressure' then 'hPa' else unit end as unit,
        {{ sh_utc('occurred_at') }} as occurred_at,
        cast(coalesce(tz_offset_minutes, 0) as integer) as tz_offset_minutes,
        event_date,
        sensor_type in ('motion', 'door', 'occupancy') as is_binary,
        _landed_at as landed_at
    from ranked
    where copy_rank = 1
)

select
    typed.*,
    {{ sh_local('occurred_at', 'tz_offset_minutes') }} as local_at,
    {{ dbt.date_trunc('hour', 'occurred_at') }} as hour_start
from typed
