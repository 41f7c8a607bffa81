INSERT INTO skene.deliveries
    (loop, user_id, step, episode, provider, template, variant, to_address, context,
     max_attempts, backoff, base_delay, max_delay, idempotency_key, next_attempt_at)
VALUES (%(loop)s, %(user_id)s, %(step)s, %(episode)s, %(provider)s, %(template)s, %(variant)s,
        %(to_address)s, %(context)s, %(max_attempts)s, %(backoff)s, %(base_delay)s,
        %(max_delay)s, %(idempotency_key)s, coalesce(%(not_before)s, now()))
ON CONFLICT ON CONSTRAINT deliveries_once_per_episode DO NOTHING
RETURNING id
