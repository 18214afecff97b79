{#- anonymous_id -> user_id, from behavioural events that carry both.
    Tie-breaking when a device logged in as several users: the device belongs to the user it
    logged in as FIRST (earliest identified event; equal timestamps -> smallest event_id). Events
    with their own user_id keep it; only anonymous events take the device's user. -#}

with identified as (

    select
        anonymous_id,
        user_id,
        occurred_at,
        row_number() over (partition by anonymous_id order by occurred_at, event_id) as login_order
    from {{ ref('stg_clickstream__events') }}
    where is_behavioural and user_id is not null

),

per_device as (

    select
        anonymous_id,
        count(distinct user_id) as users_on_device,
        min(occurred_at) as first_identified_at,
        max(occurred_at) as last_identified_at
    from identified
    group by anonymous_id

)

select
    i.anonymous_id,
    i.user_id,
    d.users_on_device,
    d.first_identified_at,
    d.last_identified_at
from identified as i
inner join per_device as d on i.anonymous_id = d.anonymous_id
where i.login_order = 1
