-- These claimed growth emails take their frequency slot now (same transaction as the count).
UPDATE skene.deliveries SET counted_at = now()
WHERE id = ANY(%(ids)s::bigint[]) AND state = 'sending'
RETURNING now() AS at
