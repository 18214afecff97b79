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

{#- Config of an incremental model that rewrites whole partitions of `partition_column`: each run
    replaces every partition present in its output and leaves the others untouched, so the model
    must return the complete content of every partition it returns. The same semantics on both
    engines, spelled per adapter: DuckDB deletes the partitions' rows then inserts (delete+insert on
    the column); Spark (Parquet tables, no Delta jars: no DELETE or MERGE) overwrites partitions
    dynamically (insert_overwrite, partitioned by the column; its partition columns come last). -#}
{% macro beacon_partition_overwrite_config(partition_column) -%}
    {{ return(adapter.dispatch('beacon_partition_overwrite_config')(partition_column)) }}
{%- endmacro %}
{% macro default__beacon_partition_overwrite_config(partition_column) -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': partition_column}) }}
{%- endmacro %}
{% macro spark__beacon_partition_overwrite_config(partition_column) -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [partition_column], 'file_format': 'parquet'}) }}
{%- endmacro %}

{#- Sessions ending at or after this instant (window read start minus the session timeout) are
    rebuilt on a windowed run of int_clickstream__sessions (for devices active in the window); none
    without start/end vars. -#}
{% macro beacon_sessions_rebuild_threshold() -%}
    {%- set w = beacon_window() -%}
    {%- if w['start'] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set read_start = modules.datetime.datetime.combine(w['read_start'], modules.datetime.time()) -%}
    {{ return(read_start - modules.datetime.timedelta(minutes=var('session_timeout_minutes') | int)) }}
{%- endmacro %}
