{#- RFM per customer as of var reference_date (rules in macros/clickstream/rfm.sql and the YAML). -#}
{{ rfm_scores(beacon_date(var('reference_date'))) }}
