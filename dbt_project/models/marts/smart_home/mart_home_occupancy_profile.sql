{#- Hour-of-week occupancy profile per home: 168 slots (Monday 00:00 local = slot 0).

    A home is occupied in an hour when any of its rooms is (fct_room_occupancy_hourly). Each hour
    is placed in the home's local week with that hour's tz_offset_minutes (so a DST change moves
    the UTC hours, not the local slots). The probability of a slot is the share of the weeks in
    which the slot was observed that had it occupied; a slot never observed has probability 0 and
    weeks_observed 0. -#}
with room_hours as (
    select * from {{ ref('fct_room_occupancy_hourly') }}
),

home_hours as (
    select
        home_id,
        hour_start,
        max(local_hour_start) as local_hour_start,
        max(case when is_occupied then 1 else 0 end) as occupied,
        cast(sum(case when is_occupied then 1 else 0 end) as bigint) as rooms_occupied
    from room_hours
    group by home_id, hour_start
),

placed as (
    select
        home_id,
        occupied,
        rooms_occupied,
        {{ sh_hour_of_week('local_hour_start') }} as hour_of_week,
        {{ sh_week_start('local_hour_start') }} as week_start
    from home_hours
),

observed as (
    select
        home_id,
        hour_of_week,
        count(distinct week_start) as weeks_observed,
        count(distinct case when occupied = 1 then week_start end) as weeks_occupied,
        avg(cast(rooms_occupied as double)) as mean_rooms_occupied
    from placed
    group by home_id, hour_of_week
),

slots as (
    select generated_number - 1 as hour_of_week
    from ({{ dbt.generate_series(168) }}) series
),

homes as (
    select home_id from {{ ref('int_smart_home_homes') }}
)

select
    homes.home_id,
    slots.hour_of_week,
    cast(floor(slots.hour_of_week / 24) as integer) as day_of_week,
    cast(mod(slots.hour_of_week, 24) as integer) as local_hour,
    {{ sh_slot_label('slots.hour_of_week') }} as slot_label,
    coalesce(observed.weeks_observed, 0) as weeks_observed,
    coalesce(observed.weeks_occupied, 0) as weeks_occupied,
    coalesce(cast(observed.weeks_occupied as double) / nullif(observed.weeks_observed, 0), 0.0)
        as occupancy_probability,
    coalesce(observed.mean_rooms_occupied, 0.0) as mean_rooms_occupied
from homes
cross join slots
left join observed
    on homes.home_id = observed.home_id and slots.hour_of_week = observed.hour_of_week
