{#- Degrading appliances: one row per appliance (of the kinds in var('degradation_device_kinds'))
    with cycles, comparing its recent cycles with its own earlier ones.

    Recent window: cycles starting in the var('degradation_recent_days') local days before the
    reference date (exclusive); baseline: every earlier cycle. With at least
    var('degradation_min_cycles') cycles on each side, three flags:
      energy_per_cycle_degrading  recent mean energy per cycle >= (1 + var('degradation_threshold_pct'))
                                  x baseline mean, and the rise is at least var('degradation_min_z')
                                  standard errors (Welch) - one odd cycle must not flag a device;
      cycle_length_degrading      the same test on the cycle length, with its own threshold
                                  var('degradation_length_threshold_pct') (a job that takes longer is
                                  telling earlier than its energy);
      power_degrading             the mean power while running (total energy / total on time) rose by
                                  at least var('degradation_power_threshold_pct') - it averages out
                                  cycle-length noise, so a smaller rise is already telling.
    is_degrading = any flag. (A scaling heating element draws more power; a clogged pump or filter
    makes cycles longer; both cost more energy for the same job.) -#}
{%- set recent_days = var('degradation_recent_days', 7) | int -%}
{%- set min_cycles = var('degradation_min_cycles', 3) | int -%}
{%- set threshold = var('degradation_threshold_pct', 0.2) -%}
{%- set length_threshold = var('degradation_length_threshold_pct', 0.08) -%}
{%- set power_threshold = var('degradation_power_threshold_pct', 0.08) -%}
{%- set min_z = var('degradation_min_z', 3.0) -%}
{%- set kinds = var('degradation_device_kinds', ['washing_machine', 'dishwasher', 'coffee_machine', 'fridge']) -%}

with cycles as (
    select
        all_cycles.*,
        {{ sh_reference_date() }} as reference_date
    from {{ ref('fct_appliance_cycles') }} as all_cycles
    where device_kind in ({%- for k in kinds -%}'{{ k }}'{{ ', ' if not loop.last }}{%- endfor -%})
),

windowed as (
    select
        cycles.*,
        case
            when local_date >= {{ sh_add_days(-recent_days, 'reference_date') }} and local_date < reference_date
                then 'recent'
            when local_date < {{ sh_add_days(-recent_days, 'reference_date') }} then 'baseline'
        end as cycle_window
    from cycles
),

per_device as (
    select
        home_id,
        device_id,
        max(device_kind) as device_kind,
        max(room) as room,
        max(reference_date) as reference_date,
        count(*) as cycles_total,
        cast(sum(case when cycle_window = 'baseline' then 1 else 0 end) as bigint) as baseline_cycles,
        cast(sum(case when cycle_window = 'recent' then 1 else 0 end) as bigint) as recent_cycles,
        avg(case when cycle_window = 'baseline' then energy_wh end) as baseline_energy_per_cycle_wh,
        avg(case when cycle_window = 'recent' then energy_wh end) as recent_energy_per_cycle_wh,
        stddev_samp(case when cycle_window = 'baseline' then energy_wh end) as baseline_energy_sd,
        stddev_samp(case when cycle_window = 'recent' then energy_wh end) as recent_energy_sd,
        avg(case when cycle_window = 'baseline' then duration_minutes end) as baseline_cycle_minutes,
        avg(case when cycle_window = 'recent' then duration_minutes end) as recent_cycle_minutes,
        stddev_samp(case when cycle_window = 'baseline' then duration_minutes end) as baseline_minutes_sd,
        stddev_samp(case when cycle_window = 'recent' then duration_minutes end) as recent_minutes_sd,
        sum(case when cycle_window = 'baseline' then energy_wh end) * 60.0
            / nullif(sum(case when cycle_window = 'baseline' then duration_minutes end), 0) as baseline_mean_watts,
        sum(case when cycle_window = 'recent' then energy_wh end) * 60.0
            / nullif(sum(case when cycle_window = 'recent' then duration_minutes end), 0) as recent_mean_watts
    from windowed
    group by home_id, device_id
),

compared as (
    select
        per_device.*,
        baseline_cycles >= {{ min_cycles }} and recent_cycles >= {{ min_cycles }} as has_enough_cycles,
        case when baseline_energy_per_cycle_wh > 0
            then recent_energy_per_cycle_wh / baseline_energy_per_cycle_wh - 1 end as energy_per_cycle_change,
        case when baseline_cycle_minutes > 0
            then recent_cycle_minutes / baseline_cycle_minutes - 1 end as cycle_length_change,
        case when baseline_mean_watts > 0
            then recent_mean_watts / baseline_mean_watts - 1 end as mean_power_change,
        recent_energy_per_cycle_wh - baseline_energy_per_cycle_wh > {{ min_z }} * sqrt(
            power(baseline_energy_sd, 2) / baseline_cycles + power(recent_energy_sd, 2) / recent_cycles
        ) as energy_rise_significant,
        recent_cycle_minutes - baseline_cycle_minutes > {{ min_z }} * sqrt(
            power(baseline_minutes_sd, 2) / baseline_cycles + power(recent_minutes_sd, 2) / recent_cycles
        ) as length_rise_significant
    from per_device
),

flagged as (
    select
        compared.*,
        coalesce(has_enough_cycles and energy_per_cycle_change >= {{ threshold }} and energy_rise_significant, false)
            as energy_per_cycle_degrading,
        coalesce(has_enough_cycles and cycle_length_change >= {{ length_threshold }} and length_rise_significant,
                 false)
            as cycle_length_degrading,
        coalesce(has_enough_cycles and mean_power_change >= {{ power_threshold }}, false) as power_degrading
    from compared
)

select
    home_id,
    device_id,
    device_kind,
    room,
    reference_date,
    cycles_total,
    baseline_cycles,
    recent_cycles,
    baseline_energy_per_cycle_wh,
    recent_energy_per_cycle_wh,
    energy_per_cycle_change,
    baseline_cycle_minutes,
    recent_cycle_minutes,
    cycle_length_change,
    baseline_mean_watts,
    recent_mean_watts,
    mean_power_change,
    has_enough_cycles,
    energy_per_cycle_degrading,
    cycle_length_degrading,
    power_degrading,
    energy_per_cycle_degrading or cycle_length_degrading or power_degrading as is_degrading
from flagged
