-- Waiting steps: an enrolled user's condition now holds. Only a row still 'enrolled' moves, so
-- two evaluations racing for one user act once.
UPDATE skene.enrolments AS e
SET state = t.state, variant = t.variant, met_at = now(), holdout = t.holdout,
    sent_at = CASE WHEN t.state IN ('sent', 'converted') THEN now() END,
    converted_at = CASE WHEN t.state = 'converted' THEN now() END,
    evaluations = e.evaluations + 1, last_evaluated_at = now(), last_error = t.error,
    failures = 0, retry_at = NULL, context = e.context || t.context
FROM unnest(%(users)s::text[], %(episodes)s::text[], %(variants)s::text[], %(states)s::text[],
            %(errors)s::text[], %(contexts)b::jsonb[], %(holdouts)s::boolean[])
     AS t(user_id, episode, variant, state, error, context, holdout)
WHERE e.loop = %(loop)s AND e.user_id = t.user_id AND e.episode = t.episode
  AND e.state = 'enrolled'
RETURNING e.user_id
