-- Record a batch of failed sends: back to 'pending' at now() + delay, or 'dead'. Only the claim
-- that made the attempt may record its failure (attempts is the fencing token), so a sender
-- whose lease expired cannot overwrite a newer claim.
UPDATE skene.deliveries d
SET state = u.state, attempts = u.new_attempts, last_error = u.error, updated_at = now(),
    next_attempt_at = now() + make_interval(secs => u.delay)
FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(new_attempts)s::int[], %(states)s::text[],
            %(delays)s::float8[], %(errors)s::text[])
     AS u(id, attempts, new_attempts, state, delay, error)
WHERE d.id = u.id AND d.state = 'sending' AND d.attempts = u.attempts
