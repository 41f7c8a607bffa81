SELECT user_id, plan, status, extract(epoch FROM billing_anchor)::bigint AS anchor
FROM skene.user_plans
WHERE user_id = %(user_id)s
