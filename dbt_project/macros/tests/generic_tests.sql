{#- Generic data tests (no dbt packages here, so we write the few we need). -#}

{#- Rows where `expression` is false fail. -#}
{% test expression_is_true(model, expression, where=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where %} and ({{ where }}){% endif %}
{% endtest %}

{#- Values outside [min_value, max_value] fail (nulls pass; pair with not_null if needed). -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
select *
from {{ model }}
where {{ column_name }} is not null and (
    1 = 0
    {%- if min_value is not none %} or {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}{% endif %}
    {%- if max_value is not none %} or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}{% endif %}
)
{% endtest %}

{#- A combination of columns must be unique. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- The table must have at least `min_rows` rows. -#}
{% test at_least_rows(model, min_rows=1) %}
select n from (select count(*) as n from {{ model }}) counted where n < {{ min_rows }}
{% endtest %}
