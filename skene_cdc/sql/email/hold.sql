-- Claimed deliveries the sender must not send now, recorded in the claim's transaction:
-- 'suppressed' (an opt-out, bounce or complaint) and 'expired' (held past what its loop can
-- credit) for good, with the reason; 'pending' again until `until` when a frequency cap or quiet
-- hours defer it (that claim was not an attempt: it is given back). Fenced like mark_failed.
WITH held AS (
    UPDATE skene.deliveries d
    SET state = u.state, updated_at = now(),
        attempts = CASE WHEN u.state = 'pending' THEN d.attempts - 1 ELSE d.attempts END,
        next_attempt_at = coalesce(u.until, d.next_attempt_at),
        last_error = CASE WHEN u.state = 'pending' THEN d.last_error ELSE u.reason END,
        deferred_reason = CASE WHEN u.state = 'pending' THEN u.reason ELSE d.deferred_reason END,
        deferrals = d.deferrals + CASE WHEN u.state = 'pending' THEN 1 ELSE 0 END
    FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(states)s::text[], %(reasons)s::text[],
                %(untils)s::timestamptz[]) AS u(id, attempts, state, reason, until)
    WHERE d.id = u.id AND d.state = 'sending' AND d.attempts = u.attempts
    RETURNING d.loop, d.user_id, d.episode, d.state, u.reason
)
UPDATE skene.enrolments e
SET state = h.state, last_error = h.reason
FROM held h
WHERE h.state IN ('suppressed', 'expired') AND e.loop = h.loop AND e.user_id = h.user_id
  AND e.episode = h.episode AND e.state IN ('met', 'sent')
