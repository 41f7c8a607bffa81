-- Per loop and UTC day: episodes enrolled, emails sent and conversions that day. Each stage is
-- counted on the day it happened, so the three lines show the funnel moving through time.
-- Conversions of held-out users (a holdout's control group) are not the email's: not counted.
WITH days AS (
    SELECT d::date AS day
    FROM generate_series((now() AT TIME ZONE 'UTC')::date - (%(days)s - 1),
                         (now() AT TIME ZONE 'UTC')::date, interval '1 day') d
), stages AS (
    SELECT loop, (enrolled_at AT TIME ZONE 'UTC')::date AS day, 'enrolled' AS stage
    FROM skene.enrolments
  UNION ALL
    SELECT loop, (sent_at AT TIME ZONE 'UTC')::date, 'sent' FROM skene.enrolments
    WHERE sent_at IS NOT NULL
  UNION ALL
    SELECT loop, (converted_at AT TIME ZONE 'UTC')::date, 'converted' FROM skene.enrolments
    WHERE converted_at IS NOT NULL AND NOT holdout
), loops AS (SELECT DISTINCT loop FROM skene.enrolments)
SELECT l.loop, d.day,
       count(s.stage) FILTER (WHERE s.stage = 'enrolled')  AS enrolled,
       count(s.stage) FILTER (WHERE s.stage = 'sent')      AS sent,
       count(s.stage) FILTER (WHERE s.stage = 'converted') AS converted
FROM loops l
CROSS JOIN days d
LEFT JOIN stages s ON s.loop = l.loop AND s.day = d.day
GROUP BY l.loop, d.day
ORDER BY l.loop, d.day
