-- Apply what a Stripe event says, unless a newer event already did (Stripe does not deliver in
-- order). A NULL plan keeps the current one (the event only names the customer/subscription).
INSERT INTO skene.user_plans AS p
    (user_id, plan, stripe_customer_id, stripe_subscription_id, status, billing_anchor,
     current_period_end, stripe_event_id, stripe_event_at, updated_at)
VALUES (%(user_id)s, coalesce(%(plan)s, 'free'), %(customer)s, %(subscription)s, %(status)s,
        to_timestamp(%(anchor)s), to_timestamp(%(period_end)s), %(event_id)s,
        to_timestamp(%(created)s), now())
ON CONFLICT (user_id) DO UPDATE SET
    plan = coalesce(%(plan)s, p.plan),
    stripe_customer_id = coalesce(excluded.stripe_customer_id, p.stripe_customer_id),
    stripe_subscription_id = coalesce(excluded.stripe_subscription_id, p.stripe_subscription_id),
    status = coalesce(excluded.status, p.status),
    billing_anchor = coalesce(excluded.billing_anchor, p.billing_anchor),
    current_period_end = coalesce(excluded.current_period_end, p.current_period_end),
    stripe_event_id = excluded.stripe_event_id,
    stripe_event_at = excluded.stripe_event_at,
    updated_at = now()
WHERE p.stripe_event_at IS NULL OR excluded.stripe_event_at >= p.stripe_event_at
RETURNING plan, status, extract(epoch FROM billing_anchor)::bigint AS anchor
