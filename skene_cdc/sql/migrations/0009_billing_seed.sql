-- Carry what 0006's webhook knew into 0009's tables, so nothing is applied twice or forgotten.
-- Events already stored are redeliveries from now on: in the history, or still in the pre-0008
-- table (0008 renamed it; `migrate` empties it into the history after the migrations).
DO $seed$
BEGIN
    EXECUTE $q$
        INSERT INTO skene.stripe_events (id, type, created, user_id, data, received_at)
        SELECT DISTINCT ON (external_id) external_id, coalesce(event, ''), occurred_at, user_id,
               coalesce(data, '{}'), captured_at
        FROM ($q$ || CASE WHEN to_regclass('skene.events_legacy') IS NULL
                          THEN 'SELECT * FROM skene.events'
                          ELSE 'SELECT * FROM skene.events UNION ALL '
                               'SELECT *, NULL::jsonb FROM skene.events_legacy' END || $q$) e
        WHERE source = 'stripe' AND external_id IS NOT NULL
        ORDER BY external_id, id
        ON CONFLICT (id) DO NOTHING$q$;
END
$seed$;

-- Each plan Stripe set stands in for its subscription until Stripe sends that subscription again
-- (any object beats a migrated row; a migrated canceled one stays canceled).
INSERT INTO skene.stripe_subscriptions
    (id, customer_id, user_ref, status, priced, billing_anchor, current_period_end, source, final,
     seen_object, state_at, status_rank)
SELECT DISTINCT ON (p.stripe_subscription_id)
       p.stripe_subscription_id, p.stripe_customer_id, p.user_id, coalesce(p.status, 'active'),
       NOT (p.plan = 'free' AND coalesce(p.status, 'active') IN ('active', 'trialing', 'past_due')),
       p.billing_anchor, p.current_period_end, 'migrated',
       coalesce(p.status IN ('canceled', 'incomplete_expired'), false), false,
       coalesce(p.stripe_event_at, p.updated_at),
       CASE p.status WHEN 'incomplete' THEN 0 WHEN 'trialing' THEN 1 WHEN 'paused' THEN 2
                     WHEN 'past_due' THEN 4 WHEN 'unpaid' THEN 5 WHEN 'canceled' THEN 6
                     WHEN 'incomplete_expired' THEN 6 ELSE 3 END
FROM skene.user_plans p
WHERE p.stripe_subscription_id IS NOT NULL AND p.stripe_event_id IS NOT NULL
ORDER BY p.stripe_subscription_id, p.updated_at DESC
ON CONFLICT (id) DO NOTHING;

INSERT INTO skene.stripe_customers (id, user_ref, source, rank, linked_at)
SELECT DISTINCT ON (p.stripe_customer_id)
       p.stripe_customer_id, p.user_id, 'migrated', 0, coalesce(p.stripe_event_at, p.updated_at)
FROM skene.user_plans p
WHERE p.stripe_customer_id IS NOT NULL AND p.stripe_event_id IS NOT NULL
ORDER BY p.stripe_customer_id, p.updated_at DESC
ON CONFLICT (id) DO NOTHING;
