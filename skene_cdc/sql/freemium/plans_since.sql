-- Plans changed since the last sync into the Redis cache (all of them on the first sync), in
-- keyset pages of (updated_at, user_id).
SELECT user_id, plan, status, extract(epoch FROM billing_anchor)::bigint AS anchor, updated_at
FROM skene.user_plans
WHERE (updated_at, user_id) > (%(since)s, %(after)s)
ORDER BY updated_at, user_id
LIMIT %(limit)s
