{#- The few expressions whose spelling differs between DuckDB and Spark, dispatched by adapter.
    Model SQL calls these (or dbt's cross-database macros) and stays portable. -#}

{#- A timestamptz column as a naive timestamp in UTC (all marts work in UTC; local time is derived
    from tz_offset_minutes, never from the session time zone). -#}
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
    to_utc_timestamp({{ column }}, current_timezone())
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

{#- ISO day of week, 1 = Monday ... 7 = Sunday. -#}
{% macro iso_weekday(ts) -%}
    {{ return(adapter.dispatch('iso_weekday')(ts)) }}
{%- endmacro %}
{% macro default__iso_weekday(ts) -%}
    (((dayofweek({{ ts }}) + 5) % 7) + 1)
{%- endmacro %}
{% macro duckdb__iso_weekday(ts) -%}
    isodow({{ ts }})
{%- endmacro %}

{#- Milliseconds between two timestamps as a double (seconds with fractions = this / 1000). -#}
{% macro seconds_between(start_ts, end_ts) -%}
    ({{ dbt.datediff(start_ts, end_ts, 'millisecond') }} / 1000.0)
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
