-- The customer a user without subscriptions is known by (the newest link).
SELECT id AS customer FROM skene.stripe_customers
WHERE user_ref = %(user_id)s
ORDER BY linked_at DESC, id DESC
LIMIT 1
