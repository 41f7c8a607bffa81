-- The plan derived from the user's subscriptions (billing/derive_plan), whatever it was before.
INSERT INTO skene.user_plans AS p
    (user_id, plan, stripe_customer_id, stripe_subscription_id, status, billing_anchor,
     current_period_end, stripe_event_id, stripe_event_at, updated_at)
VALUES (%(user_id)s, %(plan)s, %(customer)s, %(subscription)s, %(status)s,
        to_timestamp(%(anchor)s), to_timestamp(%(period_end)s), %(event_id)s,
        to_timestamp(%(created)s), now())
ON CONFLICT (user_id) DO UPDATE SET
    plan = excluded.plan,
    stripe_customer_id = excluded.stripe_customer_id,
    stripe_subscription_id = excluded.stripe_subscription_id,
    status = excluded.status,
    billing_anchor = excluded.billing_anchor,
    current_period_end = excluded.current_period_end,
    stripe_event_id = excluded.stripe_event_id,
    stripe_event_at = excluded.stripe_event_at,
    updated_at = now()
RETURNING plan, status, extract(epoch FROM billing_anchor)::bigint AS anchor
