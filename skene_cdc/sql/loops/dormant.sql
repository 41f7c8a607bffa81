-- dormant (days): no activity for `days` days. One candidate per dormancy spell (named by the
-- last activity that began it) and none while the loop's cooldown since its last email runs.
-- A user who signed up and never did anything has no activity row: their signup counts as
-- their first activity (last_event 'signup'), so they are dormant `days` after signing up.
-- user_activity_last_idx makes the first branch a range scan over the dormant users only; the
-- second reads skene.users (the app's users table) for users with no activity row at all; the
-- episode check probes enrolments_once_per_episode.
WITH quiet AS (
    SELECT a.user_id, a.last_activity_at, a.last_event
    FROM skene.user_activity a
    WHERE a.last_activity_at < now() - make_interval(days => %(days)s)
  UNION ALL
    SELECT u.user_id, u.created_at, 'signup'
    FROM skene.users u
    WHERE u.last_activity_at IS NULL
      AND u.created_at < now() - make_interval(days => %(days)s)
)
SELECT s.user_id,
       skene.spell_key(s.last_activity_at) || %(suffix)s AS episode,
       s.last_activity_at,
       s.last_event,
       floor(extract(epoch FROM now() - s.last_activity_at) / 86400)::int AS days_inactive
FROM quiet s
WHERE {scope}
  AND NOT EXISTS (
      SELECT 1 FROM skene.enrolments e
      WHERE e.loop = %(loop)s AND e.user_id = s.user_id
        AND (e.episode = skene.spell_key(s.last_activity_at) || %(suffix)s
             OR coalesce(e.sent_at, e.enrolled_at) > now() - %(cooldown)s::interval))
