{#- Product funnel: view -> cart -> purchase per product (rule in macros/clickstream/funnel.sql). -#}
{{ view_cart_purchase_funnel('product_id', carry=['category']) }}
