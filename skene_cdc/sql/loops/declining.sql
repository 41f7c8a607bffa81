-- declining (ratio, min_last_week): this week's activity (the last 7 UTC days, today included)
-- is at most `ratio` of the week before, which had at least `min_last_week` events. The same
-- weeks as skene.users.activity_this_week / activity_last_week. One episode per ISO week,
-- none within the cooldown.
WITH w AS (
    SELECT s.user_id,
           coalesce(sum(s.n) FILTER (WHERE s.day > (now() AT TIME ZONE 'UTC')::date - 7), 0)::bigint
               AS activity_this_week,
           coalesce(sum(s.n) FILTER (WHERE s.day <= (now() AT TIME ZONE 'UTC')::date - 7), 0)::bigint
               AS activity_last_week
    FROM skene.activity_daily s
    WHERE s.day > (now() AT TIME ZONE 'UTC')::date - 14
      AND {scope}
    GROUP BY s.user_id
), c AS (
    SELECT w.*,
           'declining:' || to_char(now() AT TIME ZONE 'UTC', 'IYYY-"W"IW') || %(suffix)s AS episode
    FROM w
    WHERE w.activity_last_week >= %(min_last_week)s
      AND w.activity_this_week <= %(ratio)s * w.activity_last_week
)
SELECT c.user_id, c.episode, c.activity_this_week, c.activity_last_week
FROM c
WHERE NOT EXISTS (
    SELECT 1 FROM skene.enrolments e
    WHERE e.loop = %(loop)s AND e.user_id = c.user_id
      AND (e.episode = c.episode
           OR coalesce(e.sent_at, e.enrolled_at) > now() - %(cooldown)s::interval))
