-- The freemium funnel row for (loop, user, period): 'sent' once the upgrade email is in the
-- outbox, 'met' when the loop has no upgrade prompt. Once per period, whatever repeats. `step`
-- is StepRef.number, as the loop engine writes it, so skene.loop_enrolments finds the delivery.
INSERT INTO skene.enrolments
    (loop, step, user_id, episode, variant, state, enrolled_at, met_at, sent_at, expires_at,
     context)
VALUES (%(loop)s, %(step)s, %(user_id)s, %(episode)s, %(variant)s, %(state)s, %(blocked_at)s,
        %(blocked_at)s, %(sent_at)s, %(expires_at)s, %(context)s)
ON CONFLICT ON CONSTRAINT enrolments_once_per_episode DO NOTHING
RETURNING id
