SELECT user_id FROM skene.user_plans
WHERE stripe_customer_id = %(customer)s
ORDER BY updated_at DESC
LIMIT 1
