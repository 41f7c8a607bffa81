-- skene 0011: email a company can lawfully send at scale (issue 14). Opt-outs and provider
-- suppressions, Resend's webhook events, frequency caps and quiet hours in the outbox, holdouts
-- in the funnel.

-- A delivery never sent because of an opt-out, a bounce or a complaint ('suppressed'), or held
-- by a frequency cap or quiet hours until its loop could no longer credit it ('expired').
ALTER TABLE skene.deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE skene.deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'skipped', 'suppressed', 'expired'));
-- counted_at: when this growth email took a slot in its user's frequency budget (set in the
-- claim's transaction, under a per-user lock); NULL for transactional email and until claimed.
-- deferred_reason: why a pending row waits (cap, quiet hours); deferrals: how often it waited.
ALTER TABLE skene.deliveries
    ADD COLUMN counted_at      timestamptz,
    ADD COLUMN deferred_reason text,
    ADD COLUMN deferrals       integer NOT NULL DEFAULT 0;
CREATE INDEX deliveries_counted_idx ON skene.deliveries (user_id, counted_at)
    WHERE counted_at IS NOT NULL;
-- Provider webhooks name the email by the provider's id.
CREATE INDEX deliveries_message_idx ON skene.deliveries (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- held_out: the loop decided on the user, who was held out of the email (the control group) and
-- is followed for the goal from met_at. suppressed: the user had opted out when the loop decided,
-- or before the email could be sent. `holdout` stays true once such a user converts.
ALTER TABLE skene.enrolments DROP CONSTRAINT enrolments_state_check;
ALTER TABLE skene.enrolments ADD CONSTRAINT enrolments_state_check
    CHECK (state IN ('enrolled', 'met', 'sent', 'converted', 'expired', 'failed', 'held_out',
                     'suppressed'));
ALTER TABLE skene.enrolments ADD COLUMN holdout boolean NOT NULL DEFAULT false;
-- A returning user converts their emailed and their held-out enrolments alike.
DROP INDEX skene.enrolments_convert_idx;
CREATE INDEX enrolments_goal_idx ON skene.enrolments (user_id) WHERE state IN ('sent', 'held_out');

-- Who must not get growth email: a user who unsubscribed (user_id), an address that bounced,
-- complained or was suppressed by hand (address, lower-cased). scope: 'all' growth email, or
-- 'loop:<name>'. Removing a suppression keeps the row (removed_at) as the record.
CREATE TABLE skene.suppressions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text,
    address     text,
    scope       text        NOT NULL DEFAULT 'all' CHECK (scope = 'all' OR scope LIKE 'loop:_%'),
    reason      text        NOT NULL
                CHECK (reason IN ('unsubscribe', 'bounce', 'complaint', 'provider', 'manual')),
    source      text        NOT NULL,
    detail      text,
    delivery_id bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    removed_at  timestamptz,
    removed_by  text,
    CONSTRAINT suppressions_one_subject CHECK (num_nonnulls(user_id, address) = 1),
    CONSTRAINT suppressions_address_lower CHECK (address = lower(address))
);
CREATE UNIQUE INDEX suppressions_user_idx ON skene.suppressions (user_id, scope)
    WHERE removed_at IS NULL AND user_id IS NOT NULL;
CREATE UNIQUE INDEX suppressions_address_idx ON skene.suppressions (address, scope)
    WHERE removed_at IS NULL AND address IS NOT NULL;

-- What Resend's webhooks said, once per event (svix-id), linked to the delivery it is about.
CREATE TABLE skene.resend_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    created     timestamptz NOT NULL,
    email_id    text,
    delivery_id bigint,
    user_id     text,
    address     text,
    data        jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resend_events_delivery_idx ON skene.resend_events (delivery_id);

-- The suppression that keeps growth email of loop p_loop from this user or address, if any
-- (the oldest). One definition for the loops' decisions, the outbox and the sender's claim.
CREATE FUNCTION skene.email_suppressed(p_user_id text, p_address text, p_loop text)
RETURNS bigint
LANGUAGE sql STABLE AS $fn$
    SELECT s.id FROM skene.suppressions s
    WHERE s.removed_at IS NULL
      AND (s.scope = 'all' OR s.scope = 'loop:' || p_loop)
      AND (s.user_id = p_user_id OR s.address = lower(p_address))
    ORDER BY s.created_at, s.id
    LIMIT 1
$fn$;
REVOKE ALL ON FUNCTION skene.email_suppressed(text, text, text) FROM PUBLIC;

-- A suppression as a person reads it, for deliveries.last_error and enrolments.last_error.
CREATE FUNCTION skene.suppression_reason(p_id bigint) RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT 'suppressed: '
           || CASE s.reason WHEN 'unsubscribe' THEN 'the user unsubscribed'
                            WHEN 'bounce' THEN 'the address bounced (hard bounce)'
                            WHEN 'complaint' THEN 'the recipient reported an email as spam'
                            WHEN 'provider' THEN 'the provider suppresses this address'
                            ELSE 'suppressed by hand' END
           || CASE WHEN s.scope = 'all' THEN ' (all growth email)'
                   ELSE ' (loop ' || substr(s.scope, 6) || ')' END
           || ' on ' || to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC'
           || coalesce(': ' || s.detail, '')
    FROM skene.suppressions s WHERE s.id = p_id
$fn$;
REVOKE ALL ON FUNCTION skene.suppression_reason(bigint) FROM PUBLIC;

CREATE OR REPLACE VIEW skene.loop_enrolments AS
SELECT e.loop, e.step, e.user_id, e.episode, e.state, e.variant, e.enrolled_at, e.expires_at,
       e.met_at, e.sent_at, e.converted_at, e.evaluations, e.failures, e.last_error,
       d.id AS delivery_id, d.state AS delivery_state, d.template, d.to_address, e.holdout
FROM skene.enrolments e
LEFT JOIN skene.deliveries d
       ON d.loop = e.loop AND d.user_id = e.user_id AND d.step = e.step AND d.episode = e.episode;

-- The funnel, and for loops with a holdout the comparison that says whether the email works:
-- conversion of the emailed (converted / sent) against the held out (held_out_converted /
-- held_out), their difference `lift` and its 95% confidence interval (difference of two
-- proportions, normal approximation with unpooled standard error: Wald). Held-out users count
-- in enrolled and met, never in sent or converted.
CREATE OR REPLACE VIEW skene.loop_funnel AS
SELECT f.loop, f.type, f.variant, f.enrolled, f.met, f.sent, f.delivered, f.dead, f.converted,
       f.expired, f.failed,
       round(f.converted::numeric
             / nullif(CASE WHEN f.type = 'activation' THEN f.enrolled ELSE f.sent END, 0),
             3) AS conversion_rate,
       f.suppressed, f.held_out, f.held_out_converted,
       round(f.held_out_converted::numeric / nullif(f.held_out, 0), 3) AS held_out_rate,
       round(x.lift, 4) AS lift,
       round(x.lift - 1.959964 * x.se, 4) AS lift_low,
       round(x.lift + 1.959964 * x.se, 4) AS lift_high
FROM (
    SELECT e.loop, l.type, e.variant,
           count(*) AS enrolled,
           count(e.met_at) AS met,
           count(e.sent_at) AS sent,
           count(*) FILTER (WHERE e.delivery_state = 'sent') AS delivered,
           count(*) FILTER (WHERE e.delivery_state = 'dead') AS dead,
           count(e.converted_at) FILTER (WHERE NOT e.holdout) AS converted,
           count(*) FILTER (WHERE e.state = 'expired') AS expired,
           count(*) FILTER (WHERE e.state = 'failed') AS failed,
           count(*) FILTER (WHERE e.state = 'suppressed') AS suppressed,
           count(*) FILTER (WHERE e.holdout) AS held_out,
           count(e.converted_at) FILTER (WHERE e.holdout) AS held_out_converted
    FROM skene.loop_enrolments e
    LEFT JOIN skene.loops l ON l.name = e.loop
    GROUP BY GROUPING SETS ((e.loop, l.type), (e.loop, l.type, e.variant))
    HAVING GROUPING(e.variant) = 1 OR e.variant IS NOT NULL
) f
CROSS JOIN LATERAL (
    SELECT p.p1 - p.p0 AS lift,
           sqrt(p.p1 * (1 - p.p1) / f.sent + p.p0 * (1 - p.p0) / f.held_out) AS se
    FROM (SELECT f.converted::numeric / nullif(f.sent, 0) AS p1,
                 f.held_out_converted::numeric / nullif(f.held_out, 0) AS p0) p
) x;

CREATE OR REPLACE VIEW skene.delivery_log AS
SELECT d.id, d.state, d.loop, d.user_id, d.step, d.episode, d.template, d.variant, d.provider,
       d.to_address, d.rendered ->> 'subject' AS subject, d.attempts, d.max_attempts,
       CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
       CASE WHEN d.state = 'sending' THEN d.next_attempt_at END AS lease_expires_at,
       d.last_error, d.provider_message_id, d.idempotency_key, d.created_at, d.updated_at,
       d.sent_at, d.deferred_reason, d.deferrals
FROM skene.deliveries d
ORDER BY d.updated_at DESC, d.id DESC;
