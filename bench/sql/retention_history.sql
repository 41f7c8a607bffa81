-- Steady state: earlier daily runs already emailed everyone dormant for more than 8 days, so
-- today's run has only the users who crossed the 7-day line since yesterday left to decide.
INSERT INTO skene.enrolments (loop, step, user_id, episode, state, enrolled_at, met_at, sent_at)
SELECT 'retention', 1, a.user_id, skene.spell_key(a.last_activity_at), 'sent',
       a.last_activity_at + interval '8 days', a.last_activity_at + interval '8 days',
       a.last_activity_at + interval '8 days'
FROM skene.user_activity a
WHERE a.last_activity_at < now() - interval '8 days';
