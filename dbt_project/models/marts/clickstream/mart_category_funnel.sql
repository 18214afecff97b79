{#- Category funnel: view -> cart -> purchase per category (rule in macros/clickstream/funnel.sql). -#}
{{ view_cart_purchase_funnel('category') }}
