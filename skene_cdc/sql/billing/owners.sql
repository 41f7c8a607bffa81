-- Who owns what an event touched: each subscription (its own metadata's user, else its
-- customer's), and each customer's linked user.
SELECT 'subscription' AS kind, s.id, coalesce(s.user_ref, c.user_ref) AS user_ref
FROM skene.stripe_subscriptions s
LEFT JOIN skene.stripe_customers c ON c.id = s.customer_id
WHERE s.id = ANY(%(subscriptions)s::text[]) OR s.customer_id = ANY(%(customers)s::text[])
UNION ALL
SELECT 'customer', c.id, c.user_ref
FROM skene.stripe_customers c
WHERE c.id = ANY(%(customers)s::text[])
