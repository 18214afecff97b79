{#- Incremental windows, shared by every incremental model (clickstream and smart home).

    A run processes the half-open window [var('start_date'), var('end_date')) of UTC dates, and
    re-reads `lookback_days` before it because late events land in older event_date partitions.
    Without start_date/end_date (or on a full refresh, or when the table does not exist yet) the
    window is "everything", which is always correct, only slower. -#}

{% macro beacon_window() -%}
    {%- set start = var('start_date', none) -%}
    {%- set end = var('end_date', none) -%}
    {%- if start is none or end is none or start == '' or end == '' -%}
        {{ return({'start': none, 'end': none, 'read_start': none}) }}
    {%- endif -%}
    {%- set start_d = modules.datetime.date.fromisoformat(start | string) -%}
    {%- set end_d = modules.datetime.date.fromisoformat(end | string) -%}
    {%- if end_d <= start_d -%}
        {{ exceptions.raise_compiler_error("end_date " ~ end_d ~ " must be after start_date " ~ start_d ~ " (half-open window)") }}
    {%- endif -%}
    {%- set read_start = start_d - modules.datetime.timedelta(days=var('lookback_days') | int) -%}
    {{ return({'start': start_d, 'end': end_d, 'read_start': read_start}) }}
{%- endmacro %}

{#- True when this run may process only a window (incremental run with start/end vars). -#}
{% macro beacon_is_windowed() -%}
    {{ return(is_incremental() and beacon_window()['start'] is not none) }}
{%- endmacro %}

{#- Predicate on a date column: inside [start - lookback, end) on windowed runs, else true. -#}
{% macro beacon_window_filter(date_column) -%}
    {%- set w = beacon_window() -%}
    {%- if beacon_is_windowed() -%}
        {{ date_column }} >= {{ beacon_date(w['read_start']) }} and {{ date_column }} < {{ beacon_date(w['end']) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{% macro beacon_date(value) -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{% macro beacon_timestamp(value) -%}
    cast('{{ value }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- Sessions ending at or after this instant (window read start minus the session timeout) are
    rebuilt on a windowed run of int_clickstream__sessions; none without start/end vars. It only
    depends on vars (not on is_incremental()) because model configs are rendered at parse time. -#}
{% macro beacon_sessions_rebuild_threshold() -%}
    {%- set w = beacon_window() -%}
    {%- if w['start'] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set read_start = modules.datetime.datetime.combine(w['read_start'], modules.datetime.time()) -%}
    {{ return(read_start - modules.datetime.timedelta(minutes=var('session_timeout_minutes') | int)) }}
{%- endmacro %}
