{#- Use a model's custom schema as is (staging / intermediate / marts), not <target>_<custom>:
    the build file has exactly one schema per layer, which is what publishing and BI expect. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
