{#- Suggested heating and lighting periods per home, in local hour-of-week terms.

    A period is a maximal run of consecutive slots with heating_on (system 'heating') or lights_on
    (system 'lighting') in int_home_schedule_slots (gaps and islands over the 168 slots; a run
    through Sunday 23:00 -> Monday 00:00 is one period). Heating switches on
    var('schedule_preheat_lead_hours') before the first occupied slot (pre-heat) and off at the
    first slot whose probability drops below the threshold; lighting switches on at the first and
    off after the last slot. -#}
{%- set lead_hours = var('schedule_preheat_lead_hours', 1) | int -%}

with slots as (
    select home_id, hour_of_week, occupancy_probability, 'heating' as system, heating_on as is_on
    from {{ ref('int_home_schedule_slots') }}
    union all
    select home_id, hour_of_week, occupancy_probability, 'lighting' as system, lights_on as is_on
    from {{ ref('int_home_schedule_slots') }}
),

flagged as (
    select
        slots.*,
        case
            when is_on and not coalesce(
                lag(is_on) over (partition by home_id, system order by hour_of_week), false
            ) then 1
            else 0
        end as starts_run
    from slots
),

numbered as (
    select
        flagged.*,
        sum(starts_run) over (
            partition by home_id, system order by hour_of_week
            rows between unbounded preceding and current row
        ) as run_number
    from flagged
),

runs as (
    select
        home_id, system, run_number,
        min(hour_of_week) as start_slot,
        max(hour_of_week) + 1 as end_slot,
        sum(occupancy_probability) as probability_sum,
        count(*) as slot_count
    from numbered
    where is_on
    group by home_id, system, run_number
),

bounds as (
    select home_id, system, min(run_number) as first_run, max(run_number) as last_run
    from runs
    group by home_id, system
),

-- a first run starting Monday 00:00 continues the last run ending Sunday 24:00: merge them
wraps as (
    select
        bounds.home_id, bounds.system, bounds.first_run, bounds.last_run,
        first_run_row.end_slot as first_end_slot,
        first_run_row.probability_sum as first_probability_sum,
        first_run_row.slot_count as first_slot_count
    from bounds
    inner join runs as first_run_row
        on bounds.home_id = first_run_row.home_id and bounds.system = first_run_row.system
       and bounds.first_run = first_run_row.run_number
    inner join runs as last_run_row
        on bounds.home_id = last_run_row.home_id and bounds.system = last_run_row.system
       and bounds.last_run = last_run_row.run_number
    where bounds.first_run <> bounds.last_run
      and first_run_row.start_slot = 0
      and last_run_row.end_slot = 168
),

merged as (
    select
        runs.home_id,
        runs.system,
        runs.start_slot,
        case when wraps.last_run is not null then 168 + wraps.first_end_slot else runs.end_slot end as end_slot_abs,
        runs.probability_sum + coalesce(wraps.first_probability_sum, 0) as probability_sum,
        runs.slot_count + coalesce(wraps.first_slot_count, 0) as slot_count
    from runs
    left join wraps
        on runs.home_id = wraps.home_id and runs.system = wraps.system and runs.run_number = wraps.last_run
    left join wraps as wrapped_first
        on runs.home_id = wrapped_first.home_id and runs.system = wrapped_first.system
       and runs.run_number = wrapped_first.first_run
    where wrapped_first.first_run is null
),

periods as (
    select
        merged.*,
        case when system = 'heating'
            then cast(mod(start_slot - {{ lead_hours }} + 168, 168) as integer)
            else start_slot
        end as switch_on_slot,
        cast(mod(end_slot_abs, 168) as integer) as switch_off_slot
    from merged
)

select
    home_id,
    system,
    cast(row_number() over (partition by home_id, system order by start_slot) as integer) as period_number,
    switch_on_slot as switch_on_hour_of_week,
    {{ sh_slot_label('switch_on_slot') }} as switch_on_at,
    start_slot as occupied_from_hour_of_week,
    {{ sh_slot_label('start_slot') }} as occupied_from_at,
    switch_off_slot as switch_off_hour_of_week,
    {{ sh_slot_label('switch_off_slot') }} as switch_off_at,
    end_slot_abs - start_slot as occupied_hours,
    case when system = 'heating' then {{ lead_hours }} else 0 end as preheat_hours,
    probability_sum / slot_count as mean_occupancy_probability
from periods
