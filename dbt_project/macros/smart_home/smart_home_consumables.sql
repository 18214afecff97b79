{#- Which devices use up which consumable, and how their use is counted.

    var('smart_home_consumables') overrides the default. `measure` is one of
      cycles         appliance cycles (from power readings) of the device kinds
      runtime_hours  hours the device kinds were on (appliance cycles' duration)
      activations    readings with value 1 of the binary sensors of the device kinds
                     (a battery-powered door or motion sensor spends energy per event) -#}
{% macro sh_consumables() -%}
    {{ return(var('smart_home_consumables', {
        'coffee_pods': {'measure': 'cycles', 'device_kinds': ['coffee_machine']},
        'detergent': {'measure': 'cycles', 'device_kinds': ['washing_machine', 'dishwasher']},
        'air_filters': {'measure': 'runtime_hours', 'device_kinds': ['heater']},
        'batteries': {'measure': 'activations', 'device_kinds': ['door_sensor', 'motion_sensor']},
    })) }}
{%- endmacro %}

{#- The mapping as rows (category, device_kind, measure), portable `select ... union all`. -#}
{% macro sh_consumable_device_rows() -%}
    {%- set rows = [] -%}
    {%- for category, spec in sh_consumables().items() -%}
        {%- for kind in spec['device_kinds'] -%}
            {%- do rows.append("select '" ~ category ~ "' as category, '" ~ kind ~ "' as device_kind, '"
                               ~ spec['measure'] ~ "' as measure") -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ rows | join('\n    union all\n    ') }}
{%- endmacro %}

{#- SQL list literal of the consumable categories, e.g. ('coffee_pods', 'detergent'). -#}
{% macro sh_consumable_categories_sql() -%}
    ({%- for category in sh_consumables().keys() -%}'{{ category }}'{{ ', ' if not loop.last }}{%- endfor -%})
{%- endmacro %}
