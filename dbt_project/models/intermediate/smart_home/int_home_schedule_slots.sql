{#- What each hour of the week should do, per home, from its occupancy profile.

    - heating_on: the slot's occupancy probability is at least var('schedule_occupancy_threshold').
    - preheat: the slot is not heating_on but one of the next var('schedule_preheat_lead_hours')
      slots is (the heating starts that early so the room is warm on arrival). Wraps Sunday ->
      Monday.
    - lights_on: heating_on, the local hour is dark (var('occupancy_dark_start_hour') to
      var('occupancy_dark_end_hour'), as in the occupancy rule) and not inside the quiet (sleep)
      window var('lighting_quiet_start_hour') to var('lighting_quiet_end_hour'). -#}
{%- set threshold = var('schedule_occupancy_threshold', 0.5) -%}
{%- set lead_hours = var('schedule_preheat_lead_hours', 1) | int -%}

with profile as (
    select
        home_id, hour_of_week, local_hour, occupancy_probability,
        occupancy_probability >= {{ threshold }} as is_likely_occupied
    from {{ ref('mart_home_occupancy_profile') }}
),

ahead as (
    {%- if lead_hours > 0 %}
    select
        profile.home_id,
        profile.hour_of_week,
        max(case when later.is_likely_occupied then 1 else 0 end) as occupied_soon
    from profile
    inner join profile as later
        on profile.home_id = later.home_id
       and later.hour_of_week in (
        {%- for k in range(1, lead_hours + 1) -%}
           mod(profile.hour_of_week + {{ k }}, 168){{ ', ' if not loop.last }}
        {%- endfor -%}
       )
    group by profile.home_id, profile.hour_of_week
    {%- else %}
    select home_id, hour_of_week, 0 as occupied_soon from profile
    {%- endif %}
)

select
    profile.home_id,
    profile.hour_of_week,
    profile.local_hour,
    profile.occupancy_probability,
    profile.is_likely_occupied as heating_on,
    (not profile.is_likely_occupied) and coalesce(ahead.occupied_soon, 0) = 1 as preheat,
    profile.is_likely_occupied
        and {{ sh_hour_in_window('profile.local_hour', var('occupancy_dark_start_hour', 17), var('occupancy_dark_end_hour', 7)) }}
        and not {{ sh_hour_in_window('profile.local_hour', var('lighting_quiet_start_hour', 23), var('lighting_quiet_end_hour', 6)) }}
        as lights_on
from profile
left join ahead on profile.home_id = ahead.home_id and profile.hour_of_week = ahead.hour_of_week
