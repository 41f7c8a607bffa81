-- A firing whose evaluation failed and whose backoff has passed; SKIP LOCKED so two listeners
-- never retry the same one.
SELECT id, loop, step, fire_time, attempts
FROM skene.schedule_firings
WHERE state = 'failed' AND retry_at <= now() AND loop = ANY(%(loops)s::text[])
ORDER BY retry_at
LIMIT 1
FOR UPDATE SKIP LOCKED
