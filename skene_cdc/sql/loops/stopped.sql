-- stopped (event, days): the user has used `event` before, but not in the last `days` days.
-- One candidate per such spell (named by the last use), none within the cooldown. One
-- skene.user_events row per user, found through user_events_last_idx (event, last_at).
SELECT s.user_id,
       'stopped:' || s.event || ':' || skene.epoch_us(s.last_at) || %(suffix)s AS episode,
       s.event AS stopped_event,
       s.last_at AS last_used_at,
       s.n AS times_used
FROM skene.user_events s
WHERE s.event = %(event)s
  AND s.last_at < now() - make_interval(days => %(days)s)
  AND {scope}
  AND NOT EXISTS (
      SELECT 1 FROM skene.enrolments e
      WHERE e.loop = %(loop)s AND e.user_id = s.user_id
        AND (e.episode = 'stopped:' || s.event || ':' || skene.epoch_us(s.last_at) || %(suffix)s
             OR coalesce(e.sent_at, e.enrolled_at) > now() - %(cooldown)s::interval))
