-- Retention's goal: the user is active again within goal_window after the email. The earliest
-- such activity is the conversion time. An email that was never sent converts nobody. A held-out
-- user (the control group) converts the same way, from when the email would have gone out.
UPDATE skene.enrolments AS e
SET state = 'converted', converted_at = v.at
FROM (
    SELECT s.id, min(t.at) AS at
    FROM skene.enrolments s
    JOIN unnest(%(users)s::text[], %(ats)s::timestamptz[]) AS t(user_id, at)
      ON t.user_id = s.user_id
    CROSS JOIN LATERAL (SELECT CASE WHEN s.state = 'held_out' THEN s.met_at
                                    ELSE s.sent_at END AS since) r
    WHERE s.state IN ('sent', 'held_out') AND s.loop = %(loop)s
      AND t.at >= r.since AND t.at <= r.since + %(window)s::interval
    GROUP BY s.id
) v
WHERE e.id = v.id
  AND NOT EXISTS (
      SELECT 1 FROM skene.deliveries d
      WHERE d.loop = e.loop AND d.user_id = e.user_id AND d.step = e.step
        AND d.episode = e.episode AND d.state IN ('dead', 'skipped', 'suppressed', 'expired'))
