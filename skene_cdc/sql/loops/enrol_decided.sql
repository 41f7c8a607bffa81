-- Schedule and immediate steps: the decision creates the enrolment. The episode key makes a
-- second one impossible; a retention loop also skips users it emailed within its cooldown.
-- A held-out or suppressed user gets no email: no sent_at (met_at is when it would have gone).
INSERT INTO skene.enrolments AS e
    (loop, step, user_id, episode, variant, state, met_at, sent_at, converted_at, evaluations,
     last_evaluated_at, last_error, context, holdout)
SELECT %(loop)s, %(step)s, t.user_id, t.episode, t.variant, t.state, now(),
       CASE WHEN t.state IN ('sent', 'converted') THEN now() END,
       CASE WHEN t.state = 'converted' THEN now() END,
       1, now(), t.error, t.context, t.holdout
FROM unnest(%(users)s::text[], %(episodes)s::text[], %(variants)s::text[], %(states)s::text[],
            %(errors)s::text[], %(contexts)b::jsonb[], %(holdouts)s::boolean[])
     AS t(user_id, episode, variant, state, error, context, holdout)
WHERE NOT EXISTS (
    SELECT 1 FROM skene.enrolments c
    WHERE c.loop = %(loop)s AND c.user_id = t.user_id
      AND coalesce(c.sent_at, c.enrolled_at) > now() - %(cooldown)s::interval)
ORDER BY t.user_id
ON CONFLICT ON CONSTRAINT enrolments_once_per_episode DO NOTHING
RETURNING e.user_id
