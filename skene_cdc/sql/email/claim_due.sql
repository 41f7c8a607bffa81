-- Claim due pending deliveries. SKIP LOCKED: concurrent senders take disjoint rows and never
-- wait on each other. The claim commits before anything is sent: state 'sending' plus a lease
-- (next_attempt_at = lease expiry) keeps other senders off the row while this one sends.
-- attempts counts the claim, so an attempt whose sender died still counts.
WITH due AS (
    SELECT id FROM skene.deliveries
    WHERE state = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE skene.deliveries d
SET state = 'sending', attempts = d.attempts + 1, updated_at = now(), claimed_by = nullif(%(owner)s, 0),
    next_attempt_at = now() + make_interval(secs => %(lease)s)
FROM due WHERE d.id = due.id
RETURNING d.id, d.loop, d.user_id, d.step, d.episode, d.provider, d.template, d.variant,
          d.to_address, d.context, d.attempts, d.max_attempts, d.backoff, d.base_delay,
          d.max_delay, d.idempotency_key, d.rendered, d.counted_at, d.created_at
