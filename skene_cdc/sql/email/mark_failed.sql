-- Record a batch of failed sends: back to 'pending' at now() + delay, or 'dead'. Only the claim
-- that made the attempt may record its failure (attempts is the fencing token), so a sender
-- whose lease expired cannot overwrite a newer claim. A dead delivery's enrolment (same loop,
-- user, episode) no longer says 'sent': it is 'failed', with why the email did not go out
-- (`skene-cdc deliveries retry` re-queues it; a later send moves it back to 'sent').
WITH failed AS (
    UPDATE skene.deliveries d
    SET state = u.state, attempts = u.new_attempts, last_error = u.error, updated_at = now(),
        next_attempt_at = now() + make_interval(secs => u.delay)
    FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(new_attempts)s::int[],
                %(states)s::text[], %(delays)s::float8[], %(errors)s::text[])
         AS u(id, attempts, new_attempts, state, delay, error)
    WHERE d.id = u.id AND d.state = 'sending' AND d.attempts = u.attempts
    RETURNING d.loop, d.user_id, d.episode, d.state, d.last_error
)
UPDATE skene.enrolments e
SET state = 'failed', last_error = 'the email was not sent: ' || f.last_error
FROM failed f
WHERE f.state = 'dead' AND e.loop = f.loop AND e.user_id = f.user_id AND e.episode = f.episode
  AND e.state IN ('met', 'sent', 'failed')
