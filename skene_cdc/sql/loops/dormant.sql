-- dormant (days): no activity for `days` days. One candidate per dormancy spell (named by the
-- last activity that began it) and none while the loop's cooldown since its last email runs.
-- user_activity_last_idx makes this a range scan over the dormant users only; the episode check
-- probes enrolments_once_per_episode.
SELECT s.user_id,
       skene.spell_key(s.last_activity_at) || %(suffix)s AS episode,
       s.last_activity_at,
       s.last_event,
       floor(extract(epoch FROM now() - s.last_activity_at) / 86400)::int AS days_inactive
FROM skene.user_activity s
WHERE s.last_activity_at < now() - make_interval(days => %(days)s)
  AND {scope}
  AND NOT EXISTS (
      SELECT 1 FROM skene.enrolments e
      WHERE e.loop = %(loop)s AND e.user_id = s.user_id
        AND (e.episode = skene.spell_key(s.last_activity_at) || %(suffix)s
             OR coalesce(e.sent_at, e.enrolled_at) > now() - %(cooldown)s::interval))
