{#- Time helpers of the smart-home marts. Everything is stored in UTC (naive timestamps); local
    time is derived from the reading's tz_offset_minutes, never from a session time zone, so the
    same data gives the same hour-of-week on any machine. -#}

{#- A timestamptz column as a naive UTC timestamp (portable.sql's utc_timestamp). -#}
{% macro sh_utc(column) -%}
    {{ utc_timestamp(column) }}
{%- endmacro %}

{#- Seconds (with fractions) from start_ts to end_ts (portable.sql's seconds_between). -#}
{% macro sh_seconds_between(start_ts, end_ts) -%}
    {{ seconds_between(start_ts, end_ts) }}
{%- endmacro %}

{#- A date plus n days, as a date (dateadd returns a timestamp on some adapters). -#}
{% macro sh_add_days(n, date_expr) -%}
    cast({{ dbt.dateadd('day', n, date_expr) }} as date)
{%- endmacro %}

{#- Local wall-clock time of a UTC timestamp, given minutes east of UTC (null offset = UTC). -#}
{% macro sh_local(ts, offset_minutes) -%}
    {{ dbt.dateadd('minute', 'coalesce(' ~ offset_minutes ~ ', 0)', ts) }}
{%- endmacro %}

{#- Hour of day 0-23 of a timestamp (ANSI extract works on DuckDB and Spark). -#}
{% macro sh_hour_of_day(ts) -%}
    cast(extract(hour from {{ ts }}) as integer)
{%- endmacro %}

{#- Day of week 0 = Monday ... 6 = Sunday, counted from Monday 1970-01-05 (portable: no
    engine-specific weekday function or week-start setting). -#}
{% macro sh_day_of_week(date_expr) -%}
    cast(mod({{ dbt.datediff("cast('1970-01-05' as date)", 'cast(' ~ date_expr ~ ' as date)', 'day') }} + 700000, 7) as integer)
{%- endmacro %}

{#- Hour of week 0..167 (Monday 00:00 = 0) of a local timestamp. -#}
{% macro sh_hour_of_week(local_ts) -%}
    ({{ sh_day_of_week(local_ts) }} * 24 + {{ sh_hour_of_day(local_ts) }})
{%- endmacro %}

{#- Monday (a date) of the week a local timestamp falls in. -#}
{% macro sh_week_start(local_ts) -%}
    {{ sh_add_days('-1 * ' ~ sh_day_of_week(local_ts), 'cast(' ~ local_ts ~ ' as date)') }}
{%- endmacro %}

{#- 'Mon 07:00' for an hour of week 0..167. -#}
{% macro sh_slot_label(slot) -%}
    {{ dbt.concat([
        "case cast(floor(" ~ slot ~ " / 24) as integer) when 0 then 'Mon' when 1 then 'Tue' when 2 then 'Wed'"
        ~ " when 3 then 'Thu' when 4 then 'Fri' when 5 then 'Sat' else 'Sun' end",
        "' '",
        "lpad(cast(mod(" ~ slot ~ ", 24) as " ~ dbt.type_string() ~ "), 2, '0')",
        "':00'"
    ]) }}
{%- endmacro %}

{#- The "today" of relative measures: var('reference_date') (explicit, never now()), else the day
    after the last reading, so a rebuild of the same data gives the same numbers. -#}
{% macro sh_reference_date() -%}
    {%- set ref_date = var('reference_date', none) -%}
    {%- if ref_date is not none and ref_date | string | length > 0 -%}
        cast('{{ ref_date }}' as date)
    {%- else -%}
        (select {{ sh_add_days(1, 'max(event_date)') }} from {{ ref('stg_sensor_readings') }})
    {%- endif -%}
{%- endmacro %}

{#- Is a local hour of day inside a window [start_hour, end_hour) that may wrap midnight? -#}
{% macro sh_hour_in_window(hour_expr, start_hour, end_hour) -%}
    {%- if start_hour | int <= end_hour | int -%}
        ({{ hour_expr }} >= {{ start_hour }} and {{ hour_expr }} < {{ end_hour }})
    {%- else -%}
        ({{ hour_expr }} >= {{ start_hour }} or {{ hour_expr }} < {{ end_hour }})
    {%- endif -%}
{%- endmacro %}
