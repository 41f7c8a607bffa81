-- Undo 0012_email: the views as 0003/0004 made them, then the tables, columns and states.
-- Rows in the new states take the nearest old one (a suppressed or expired delivery was never
-- sent: 'skipped'; a held-out or suppressed enrolment never got its email: 'expired').
DROP VIEW IF EXISTS skene.loop_funnel, skene.loop_enrolments, skene.delivery_log;
CREATE VIEW skene.loop_enrolments AS
SELECT e.loop, e.step, e.user_id, e.episode, e.state, e.variant, e.enrolled_at, e.expires_at,
       e.met_at, e.sent_at, e.converted_at, e.evaluations, e.failures, e.last_error,
       d.id AS delivery_id, d.state AS delivery_state, d.template, d.to_address
FROM skene.enrolments e
LEFT JOIN skene.deliveries d
       ON d.loop = e.loop AND d.user_id = e.user_id AND d.step = e.step AND d.episode = e.episode;
COMMENT ON VIEW skene.loop_enrolments IS 'Each (loop, user, episode) with its delivery, if any.';

-- Per loop (variant IS NULL) and per variant. Activation converts by meeting its condition, so
-- its rate is over everyone enrolled; the others convert after the email, so over those sent.
CREATE VIEW skene.loop_funnel AS
SELECT f.loop, l.type, f.variant,
       count(*) AS enrolled,
       count(f.met_at) AS met,
       count(f.sent_at) AS sent,
       count(*) FILTER (WHERE f.delivery_state = 'sent') AS delivered,
       count(*) FILTER (WHERE f.delivery_state = 'dead') AS dead,
       count(f.converted_at) AS converted,
       count(*) FILTER (WHERE f.state = 'expired') AS expired,
       count(*) FILTER (WHERE f.state = 'failed') AS failed,
       round(count(f.converted_at)::numeric
             / nullif(CASE WHEN l.type = 'activation' THEN count(*) ELSE count(f.sent_at) END, 0),
             3) AS conversion_rate
FROM skene.loop_enrolments f
LEFT JOIN skene.loops l ON l.name = f.loop
GROUP BY GROUPING SETS ((f.loop, l.type), (f.loop, l.type, f.variant))
HAVING GROUPING(f.variant) = 1 OR f.variant IS NOT NULL;
COMMENT ON VIEW skene.loop_funnel IS
    'Per loop (variant NULL) and per variant: enrolled, met, sent, delivered, converted, rate.';
CREATE VIEW skene.delivery_log AS
SELECT d.id, d.state, d.loop, d.user_id, d.step, d.episode, d.template, d.variant, d.provider,
       d.to_address, d.rendered ->> 'subject' AS subject, d.attempts, d.max_attempts,
       CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
       CASE WHEN d.state = 'sending' THEN d.next_attempt_at END AS lease_expires_at,
       d.last_error, d.provider_message_id, d.idempotency_key, d.created_at, d.updated_at,
       d.sent_at
FROM skene.deliveries d
ORDER BY d.updated_at DESC, d.id DESC;

DROP FUNCTION IF EXISTS skene.suppression_reason(bigint);
DROP FUNCTION IF EXISTS skene.email_suppressed(text, text, text);
DROP TABLE IF EXISTS skene.resend_events;
DROP TABLE IF EXISTS skene.suppressions;

DROP INDEX IF EXISTS skene.enrolments_goal_idx;
CREATE INDEX enrolments_convert_idx ON skene.enrolments (user_id) WHERE state = 'sent';
ALTER TABLE skene.enrolments DROP COLUMN holdout;
ALTER TABLE skene.enrolments DROP CONSTRAINT enrolments_state_check;
UPDATE skene.enrolments SET state = 'expired' WHERE state IN ('held_out', 'suppressed');
ALTER TABLE skene.enrolments ADD CONSTRAINT enrolments_state_check
    CHECK (state IN ('enrolled', 'met', 'sent', 'converted', 'expired', 'failed'));

DROP INDEX IF EXISTS skene.deliveries_message_idx;
DROP INDEX IF EXISTS skene.deliveries_counted_idx;
ALTER TABLE skene.deliveries
    DROP COLUMN counted_at, DROP COLUMN deferred_reason, DROP COLUMN deferrals;
ALTER TABLE skene.deliveries DROP CONSTRAINT deliveries_state_check;
UPDATE skene.deliveries SET state = 'skipped' WHERE state IN ('suppressed', 'expired');
ALTER TABLE skene.deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'skipped'));
