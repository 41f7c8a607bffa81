-- `enroll: existing` / `all` on an activation step: enrol the users who were already there when
-- the loop was registered (`all`: everyone), due for evaluation at once (retry_at = now()).
INSERT INTO skene.enrolments (loop, step, user_id, episode, expires_at, retry_at, context)
SELECT %(loop)s, %(step)s, u.user_id, %(episode)s, now() + %(within)s::interval, now(),
       jsonb_build_object('backfill', true)
FROM skene.users u
WHERE NOT %(existing_only)s OR u.created_at IS NULL
   OR u.created_at < (SELECT registered_at FROM skene.loops WHERE name = %(loop)s)
ORDER BY u.user_id
ON CONFLICT ON CONSTRAINT enrolments_once_per_episode DO NOTHING
