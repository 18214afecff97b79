{#- Generic data tests of the smart-home marts (names prefixed sh_ so they never clash). -#}

{#- Every group (e.g. a home) must have exactly `expected` rows (e.g. 168 hour-of-week slots). -#}
{% test sh_rows_per_group(model, group_by, expected) %}
select {{ group_by | join(', ') }}, count(*) as n
from {{ model }}
group by {{ group_by | join(', ') }}
having count(*) <> {{ expected }}
{% endtest %}
