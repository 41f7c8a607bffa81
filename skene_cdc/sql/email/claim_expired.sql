-- Reclaim deliveries whose sender died while sending: its lease ran out, or (at once) the
-- advisory lock it holds for as long as it lives is gone (email/hold_owner.sql). The provider may
-- have accepted the email already: the retry carries the same idempotency key, so it dedupes.
WITH expired AS (
    SELECT d.id FROM skene.deliveries d
    WHERE d.state = 'sending'
      AND (d.next_attempt_at <= now()
           OR (d.claimed_by IS NOT NULL AND d.claimed_by <> %(owner)s AND NOT EXISTS (
                   SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1936417134
                     AND l.objid = d.claimed_by::oid AND l.objsubid = 2
                     AND l.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database()))))
    ORDER BY d.next_attempt_at, d.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE skene.deliveries d
SET attempts = d.attempts + 1, updated_at = now(), claimed_by = nullif(%(owner)s, 0),
    next_attempt_at = now() + make_interval(secs => %(lease)s),
    last_error = 'a sender stopped while sending; retried with the same idempotency key'
FROM expired WHERE d.id = expired.id
RETURNING d.id, d.loop, d.user_id, d.step, d.episode, d.provider, d.template, d.variant,
          d.to_address, d.context, d.attempts, d.max_attempts, d.backoff, d.base_delay,
          d.max_delay, d.idempotency_key, d.rendered, d.counted_at, d.created_at
