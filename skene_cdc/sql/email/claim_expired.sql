-- Reclaim deliveries whose sender died while sending (its lease ran out). The provider may have
-- accepted the email already: the retry carries the same idempotency key, so it dedupes.
WITH expired AS (
    SELECT id FROM skene.deliveries
    WHERE state = 'sending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE skene.deliveries d
SET attempts = d.attempts + 1, updated_at = now(),
    next_attempt_at = now() + make_interval(secs => %(lease)s),
    last_error = 'lease expired: a sender stopped while sending; retried with the same '
                 'idempotency key'
FROM expired WHERE d.id = expired.id
RETURNING d.id, d.loop, d.user_id, d.step, d.episode, d.provider, d.template, d.variant,
          d.to_address, d.context, d.attempts, d.max_attempts, d.backoff, d.base_delay,
          d.max_delay, d.idempotency_key, d.rendered, d.counted_at, d.created_at
