{#- Spark implementations of dbt's cross-database date macros, replacing dbt-spark's (a root
    project's macros win over an adapter's in dbt's dispatch). Why: dbt-spark's dateadd and
    datediff go through to_unix_timestamp, which drops fractions of a second (a 30-minute session
    timeout compared at whole seconds) and returns a session-time-zone TIMESTAMP; its date_trunc
    returns a TIMESTAMP too. These keep microseconds, return TIMESTAMP_NTZ (DuckDB's naive
    TIMESTAMP) and count like DuckDB's date_diff: calendar boundaries crossed, as a bigint. All
    marts work in naive UTC timestamps and the Beacon Spark session runs in UTC. -#}

{#- DuckDB: ts + interval (n) unit -> TIMESTAMP (a date becomes a timestamp at midnight). -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set units = {
        'microsecond': 'MICROSECOND', 'millisecond': 'MILLISECOND', 'second': 'SECOND', 'minute': 'MINUTE',
        'hour': 'HOUR', 'day': 'DAY', 'week': 'WEEK', 'month': 'MONTH', 'quarter': 'QUARTER', 'year': 'YEAR',
    } -%}
    {%- if datepart | lower not in units -%}
        {{ exceptions.raise_compiler_error("dateadd: unsupported datepart '" ~ datepart ~ "' on Spark") }}
    {%- endif -%}
    timestampadd({{ units[datepart | lower] }}, cast({{ interval }} as bigint), cast({{ from_date_or_timestamp }} as timestamp_ntz))
{%- endmacro %}

{#- DuckDB: date_diff(part, a::timestamp, b::timestamp) = boundaries of `part` crossed from a to b. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- set part = datepart | lower -%}
    {%- set micros_per = {'microsecond': 1, 'millisecond': 1000, 'second': 1000000, 'minute': 60000000, 'hour': 3600000000} -%}
    {%- set a = 'cast(' ~ first_date ~ ' as timestamp_ntz)' -%}
    {%- set b = 'cast(' ~ second_date ~ ' as timestamp_ntz)' -%}
    {%- if part in micros_per -%}
        {%- set u = micros_per[part] -%}
        {%- if u == 1 -%}
        (unix_micros(cast({{ b }} as timestamp)) - unix_micros(cast({{ a }} as timestamp)))
        {%- else -%}
        (floor(unix_micros(cast({{ b }} as timestamp)) / {{ u }}) - floor(unix_micros(cast({{ a }} as timestamp)) / {{ u }}))
        {%- endif -%}
    {%- elif part == 'day' -%}
        cast(datediff(cast({{ b }} as date), cast({{ a }} as date)) as bigint)
    {%- elif part == 'week' -%}
        cast(datediff(cast(date_trunc('week', {{ b }}) as date), cast(date_trunc('week', {{ a }}) as date)) / 7 as bigint)
    {%- elif part in ('month', 'quarter', 'year') -%}
        {%- if part == 'month' -%}
        cast((year({{ b }}) * 12 + month({{ b }})) - (year({{ a }}) * 12 + month({{ a }})) as bigint)
        {%- elif part == 'quarter' -%}
        cast((year({{ b }}) * 4 + quarter({{ b }})) - (year({{ a }}) * 4 + quarter({{ a }})) as bigint)
        {%- else -%}
        cast(year({{ b }}) - year({{ a }}) as bigint)
        {%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("datediff: unsupported datepart '" ~ datepart ~ "' on Spark") }}
    {%- endif -%}
{%- endmacro %}

{#- DuckDB: date_trunc(part, TIMESTAMP) -> TIMESTAMP; Spark's date_trunc returns a TIMESTAMP (with
    time zone semantics), cast back to the naive type. -#}
{% macro spark__date_trunc(datepart, date) -%}
    cast(date_trunc('{{ datepart }}', cast({{ date }} as timestamp_ntz)) as timestamp_ntz)
{%- endmacro %}

{#- DuckDB: generate_series(1, n) -> BIGINT 1..n. dbt's default builds it from powers of two with
    power(), which is a double on Spark (slot 7 would print as '7.0'); Spark's range() is a bigint. -#}
{% macro spark__generate_series(upper_bound) -%}
    select id as generated_number from range(1, {{ upper_bound }} + 1)
{%- endmacro %}
