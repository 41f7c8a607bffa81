-- Retention's goal: the user is active again within goal_window after the email. The earliest
-- such activity is the conversion time. An email that was never sent converts nobody.
UPDATE skene.enrolments AS e
SET state = 'converted', converted_at = v.at
FROM (
    SELECT s.id, min(t.at) AS at
    FROM skene.enrolments s
    JOIN unnest(%(users)s::text[], %(ats)s::timestamptz[]) AS t(user_id, at)
      ON t.user_id = s.user_id
    WHERE s.state = 'sent' AND s.loop = %(loop)s
      AND t.at >= s.sent_at AND t.at <= s.sent_at + %(window)s::interval
    GROUP BY s.id
) v
WHERE e.id = v.id
  AND NOT EXISTS (
      SELECT 1 FROM skene.deliveries d
      WHERE d.loop = e.loop AND d.user_id = e.user_id AND d.step = e.step
        AND d.episode = e.episode AND d.state IN ('dead', 'skipped'))
