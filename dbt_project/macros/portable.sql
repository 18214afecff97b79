{#- The few expressions whose spelling differs between DuckDB and Spark, dispatched by adapter.
    Model SQL calls these (or dbt's cross-database macros, some of which are re-implemented for
    Spark in macros/spark_overrides.sql) and stays portable: the same model gives the same rows,
    values and (as far as the engines allow) column types on both targets. -#}

{#- A timestamptz column as a naive timestamp in UTC (all marts work in UTC; local time is derived
    from tz_offset_minutes, never from the session time zone). DuckDB: TIMESTAMP; Spark:
    TIMESTAMP_NTZ (the UTC wall clock whatever the session time zone). -#}
{% macro utc_timestamp(column) -%}
    {{ return(adapter.dispatch('utc_timestamp')(column)) }}
{%- endmacro %}
{% macro default__utc_timestamp(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}
{% macro duckdb__utc_timestamp(column) -%}
    timezone('UTC', {{ column }})
{%- endmacro %}
{% macro spark__utc_timestamp(column) -%}
    cast(to_utc_timestamp({{ column }}, current_timezone()) as timestamp_ntz)
{%- endmacro %}

{#- A column type by its DuckDB name, spelled for the target: model casts, unit-test fixtures and
    the data_type of sources (which unit tests use to cast fixture rows) stay portable.
    timestamp = naive (Spark TIMESTAMP_NTZ); timestamptz = an instant (Spark TIMESTAMP). -#}
{% macro beacon_type(name) -%}
    {{ return(adapter.dispatch('beacon_type')(name)) }}
{%- endmacro %}
{% macro default__beacon_type(name) -%}
    {{ return(name) }}
{%- endmacro %}
{% macro spark__beacon_type(name) -%}
    {%- set spark_types = {
        'varchar': 'string', 'text': 'string',
        'timestamp': 'timestamp_ntz',
        'timestamptz': 'timestamp', 'timestamp with time zone': 'timestamp',
        'integer': 'int', 'hugeint': 'decimal(38, 0)',
    } -%}
    {{ return(spark_types.get(name | lower | trim, name)) }}
{%- endmacro %}

{#- Cast a string literal (or expression) to a naive timestamp. -#}
{% macro beacon_timestamp(value) -%}
    cast('{{ value }}' as {{ beacon_type('timestamp') }})
{%- endmacro %}

{#- A ratio as a double: DuckDB divides integers and decimals into a double, Spark into a
    decimal rounded to 6 places (and integers into a double), so the numerator is cast first. -#}
{% macro ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double) / {{ denominator }})
{%- endmacro %}

{#- Sum / mean of doubles that carry at most `scale` decimals (millisecond durations, cents), added
    up exactly as decimals and returned as a double. Why: a sum of doubles depends on the order the
    (parallel) engine adds in, so DuckDB and Spark, or two runs, differ in the last bits; and a mean
    such as 1077.697375 sits exactly on a rounding boundary, where those bits decide the rounded
    value. Exact sums give the same double on every engine and in every run. -#}
{% macro exact_sum(column, scale) -%}
    cast(sum(cast({{ column }} as decimal(28, {{ scale }}))) as double)
{%- endmacro %}
{% macro exact_avg(column, scale) -%}
    ({{ exact_sum(column, scale) }} / nullif(count({{ column }}), 0))
{%- endmacro %}

{#- Regular-expression match (RE2 / Java regex; both accept the (?i) flag). -#}
{% macro regex_matches(column, pattern) -%}
    {{ return(adapter.dispatch('regex_matches')(column, pattern)) }}
{%- endmacro %}
{% macro default__regex_matches(column, pattern) -%}
    ({{ column }} rlike '{{ pattern }}')
{%- endmacro %}
{% macro duckdb__regex_matches(column, pattern) -%}
    regexp_matches({{ column }}, '{{ pattern }}')
{%- endmacro %}

{#- ISO day of week, 1 = Monday ... 7 = Sunday (Spark's dayofweek is 1 = Sunday ... 7 = Saturday). -#}
{% macro iso_weekday(ts) -%}
    {{ return(adapter.dispatch('iso_weekday')(ts)) }}
{%- endmacro %}
{% macro default__iso_weekday(ts) -%}
    (((dayofweek({{ ts }}) + 5) % 7) + 1)
{%- endmacro %}
{% macro duckdb__iso_weekday(ts) -%}
    isodow({{ ts }})
{%- endmacro %}

{#- Seconds (with fractions, a double) from start_ts to end_ts, through dbt's cross-database
    datediff in milliseconds. -#}
{% macro seconds_between(start_ts, end_ts) -%}
    (cast({{ dbt.datediff(start_ts, end_ts, 'millisecond') }} as double) / 1000.0)
{%- endmacro %}

{#- Partition bucket of a device: the first hex digit of md5(id), 16 buckets. The unit that an
    incremental run of int_clickstream__sessions rewrites as a whole on every engine (Spark
    overwrites partitions; it cannot delete rows from a Parquet table). -#}
{% macro device_bucket(id_column) -%}
    substr({{ dbt.hash(id_column) }}, 1, 1)
{%- endmacro %}

{#- Amount in EUR from the static rates in var('fx_to_eur'); null for an unknown currency.
    A decimal(18, 4): sums of decimals are exact, so totals do not depend on the (parallel,
    non-deterministic) order in which the engine adds them up, and incremental == full refresh. -#}
{% macro to_eur(amount, currency) -%}
    cast(case {{ currency }}
    {%- for code, rate in var('fx_to_eur').items() %}
        when '{{ code }}' then {{ amount }} * {{ rate }}
    {%- endfor %}
        else null
    end as decimal(18, 4))
{%- endmacro %}

{#- Host part of a URL, lower-cased ('' when there is none). -#}
{% macro url_host(url) -%}
    regexp_extract(lower(coalesce({{ url }}, '')), '^[a-z][a-z0-9+.-]*://([^/:?#]+)', 1)
{%- endmacro %}

{% macro _host_in(host, domains) -%}
    ({%- for d in domains %}{{ host }} = '{{ d }}' or {{ host }} like '%.{{ d }}'{{ ' or ' if not loop.last }}{% endfor -%})
{%- endmacro %}

{#- Marketing channel of a landing event, from its referrer and the utm parameters of its URL.
    First match wins:
      paid     utm_medium cpc/ppc/paid/display, or a gclid/fbclid click id
      email    utm_medium email, or a webmail referrer
      social   utm_medium social, or a social network referrer
      search   a search engine referrer
      direct   no referrer, or a referrer on the page's own host
      referral any other referrer -#}
{% macro referrer_channel(referrer, page_url) -%}
    {%- set url = "lower(coalesce(" ~ page_url ~ ", ''))" -%}
    {%- set ref_host = url_host(referrer) -%}
    {%- set page_host = url_host(page_url) -%}
    case
        when {{ url }} like '%utm_medium=cpc%' or {{ url }} like '%utm_medium=ppc%'
          or {{ url }} like '%utm_medium=paid%' or {{ url }} like '%utm_medium=display%'
          or {{ url }} like '%gclid=%' or {{ url }} like '%fbclid=%' then 'paid'
        when {{ url }} like '%utm_medium=email%'
          or {{ _host_in(ref_host, ['mail.google.com', 'outlook.live.com', 'mail.yahoo.com', 'gmx.net', 'web.de']) }}
          then 'email'
        when {{ url }} like '%utm_medium=social%'
          or {{ _host_in(ref_host, ['facebook.com', 'instagram.com', 'twitter.com', 'x.com', 't.co', 'linkedin.com',
                                    'pinterest.com', 'tiktok.com', 'reddit.com', 'youtube.com']) }}
          then 'social'
        when {{ _host_in(ref_host, ['google.com', 'google.de', 'google.co.uk', 'google.fr', 'bing.com',
                                    'duckduckgo.com', 'yahoo.com', 'baidu.com', 'yandex.ru', 'ecosia.org']) }}
             or {{ ref_host }} like 'www.google.%' or {{ ref_host }} like 'google.%'
          then 'search'
        when {{ ref_host }} = '' or {{ ref_host }} = {{ page_host }} then 'direct'
        else 'referral'
    end
{%- endmacro %}

{#- Recency decay of an event at reference_date: 2^(-age_days / interaction_half_life_days). -#}
{% macro beacon_decay(ts_column) -%}
    exp(-ln(2.0) * {{ dbt.datediff('cast(' ~ ts_column ~ ' as date)', beacon_date(var('reference_date')), 'day') }}
        / {{ var('interaction_half_life_days') }})
{%- endmacro %}
