-- skene 0003: the loop engine's state. Schedule firings (one row per cron firing, claimed by
-- exactly one listener), a per-(user, event) rollup that keeps the built-in conditions cheap at
-- millions of users, the loop registry, and the funnel views people read in psql.

-- Microseconds since the epoch: episode keys are built from it so SQL and Python never have to
-- agree on a timestamp's text form.
CREATE FUNCTION skene.epoch_us(t timestamptz) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT (extract(epoch FROM t) * 1000000)::bigint
$fn$;

-- A dormancy spell is named by the last activity that started it: one retention email per spell.
CREATE FUNCTION skene.spell_key(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT 'spell:' || (extract(epoch FROM t) * 1000000)::bigint
$fn$;

CREATE TABLE skene.loops (
    name          text PRIMARY KEY,
    type          text        NOT NULL,
    opinion       text        NOT NULL DEFAULT '',
    definition    jsonb       NOT NULL DEFAULT '{}',
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE skene.loops IS 'The loops skene.yaml defines, as last seen by a listener or `loops run`.';

-- A firing commits in the same transaction as its evaluation and enqueued deliveries, so a crash
-- leaves no row and the firing is run again; the unique key makes a second run impossible.
CREATE TABLE skene.schedule_firings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loop        text        NOT NULL,
    step        integer     NOT NULL,
    fire_time   timestamptz NOT NULL,
    manual      boolean     NOT NULL DEFAULT false,
    state       text        NOT NULL DEFAULT 'running'
                CHECK (state IN ('running', 'done', 'failed', 'dead')),
    claimed_by  text        NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    attempts    integer     NOT NULL DEFAULT 1,
    retry_at    timestamptz,
    matched     integer,
    enqueued    integer,
    last_error  text,
    CONSTRAINT schedule_firings_once UNIQUE (loop, step, fire_time)
);
CREATE INDEX schedule_firings_retry_idx ON skene.schedule_firings (retry_at) WHERE state = 'failed';

-- Per (user, event): how often and when last. `stopped` and `milestone` read one row per user
-- instead of scanning every day of activity_daily.
CREATE TABLE skene.user_events (
    user_id  text        NOT NULL,
    event    text        NOT NULL,
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL,
    n        bigint      NOT NULL,
    PRIMARY KEY (user_id, event)
);
CREATE INDEX user_events_last_idx ON skene.user_events (event, last_at);
CREATE INDEX user_events_count_idx ON skene.user_events (event, n);

-- Day precision is all activity_daily knows; rows the listener adds from now on are exact.
INSERT INTO skene.user_events (user_id, event, first_at, last_at, n)
SELECT user_id, event, min(day)::timestamp AT TIME ZONE 'UTC', max(day)::timestamp AT TIME ZONE 'UTC',
       sum(n)
FROM skene.activity_daily
GROUP BY user_id, event;

ALTER TABLE skene.enrolments
    ADD COLUMN step     integer NOT NULL DEFAULT 1,
    ADD COLUMN failures integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_at timestamptz;
-- Conversions look up a returning user's sent enrolments; the sweep finds waiting ones to expire.
CREATE INDEX enrolments_convert_idx ON skene.enrolments (user_id) WHERE state = 'sent';
CREATE INDEX enrolments_waiting_idx ON skene.enrolments (expires_at) WHERE state = 'enrolled';

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
