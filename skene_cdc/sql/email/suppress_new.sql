-- Growth deliveries just enqueued for a user or address that is suppressed (an opt-out, a bounce,
-- a complaint): recorded as 'suppressed' with the reason in the same transaction as the
-- decision, never sent. Their enrolment says so too.
WITH held AS (
    UPDATE skene.deliveries d
    SET state = 'suppressed', updated_at = now(),
        last_error = skene.suppression_reason(
            skene.email_suppressed(d.user_id, d.to_address, d.loop))
    WHERE d.id = ANY(%(ids)s::bigint[]) AND d.state = 'pending'
      AND skene.email_suppressed(d.user_id, d.to_address, d.loop) IS NOT NULL
    RETURNING d.loop, d.user_id, d.episode, d.last_error
)
UPDATE skene.enrolments e
SET state = 'suppressed', last_error = h.last_error
FROM held h
WHERE e.loop = h.loop AND e.user_id = h.user_id AND e.episode = h.episode
  AND e.state IN ('met', 'sent')
