-- Many deliveries in one statement (a scheduled firing can decide thousands at once). The
-- unique (loop, user, step, episode) key drops any that already exist; RETURNING says which
-- were new. A delivery whose address is invalid is written 'dead' with the reason: recorded,
-- never sent, never retried.
INSERT INTO skene.deliveries
    (loop, user_id, step, episode, provider, template, variant, to_address, context,
     max_attempts, backoff, base_delay, max_delay, idempotency_key, next_attempt_at, state,
     last_error)
SELECT %(loop)s, d.user_id, %(step)s, d.episode, %(provider)s, d.template, d.variant,
       d.to_address, d.context, %(max_attempts)s, %(backoff)s, %(base_delay)s, %(max_delay)s,
       d.idempotency_key, coalesce(%(not_before)s, now()), d.state, d.last_error
FROM unnest(%(user_ids)s::text[], %(episodes)s::text[], %(templates)s::text[],
            %(variants)s::text[], %(to_addresses)s::text[], %(contexts)b::jsonb[],
            %(keys)s::text[], %(states)s::text[], %(errors)s::text[])
     AS d(user_id, episode, template, variant, to_address, context, idempotency_key, state,
          last_error)
ORDER BY d.user_id
ON CONFLICT ON CONSTRAINT deliveries_once_per_episode DO NOTHING
RETURNING id, user_id, episode
