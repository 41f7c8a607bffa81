-- milestone (event, counts): the user's total of `event` (all activity when no event is named)
-- reached a count. Only the highest count reached is celebrated, once: a user who jumps from 5
-- to 150 gets the 100 email, not 10 and 100 together.
WITH totals AS (
    SELECT s.user_id, sum(s.n)::bigint AS total
    FROM skene.user_events s
    WHERE (%(event)s::text IS NULL OR s.event = %(event)s::text)
      AND {scope}
    GROUP BY s.user_id
    HAVING sum(s.n) >= %(first_count)s
), reached AS (
    SELECT t.user_id, t.total,
           (SELECT max(c) FROM unnest(%(counts)s::bigint[]) AS c WHERE c <= t.total) AS milestone
    FROM totals t
)
SELECT r.user_id,
       'milestone:' || %(event_key)s || ':' || r.milestone || %(suffix)s AS episode,
       r.milestone,
       r.total AS milestone_total
FROM reached r
WHERE NOT EXISTS (
    SELECT 1 FROM skene.enrolments e
    WHERE e.loop = %(loop)s AND e.user_id = r.user_id
      AND e.episode = 'milestone:' || %(event_key)s || ':' || r.milestone || %(suffix)s)
