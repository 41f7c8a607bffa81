-- Re-queue deliveries: due now, attempts from zero under the loop's current recovery, and the
-- context the caller re-built (today's personalization) for those never rendered.
UPDATE skene.deliveries d
SET state = 'pending', attempts = 0, max_attempts = u.max_attempts, next_attempt_at = now(),
    last_error = NULL, updated_at = now(), context = u.context
FROM unnest(%(ids)s::bigint[], %(max_attempts)s::int[], %(contexts)b::jsonb[])
     AS u(id, max_attempts, context)
WHERE d.id = u.id
