-- The declared schema of skene: what all migrations together build. A test checks that
-- they agree; a new migration changes this file too.
CREATE SCHEMA IF NOT EXISTS skene;

CREATE TABLE skene.events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction: the listener reads in (txid, id) order below the snapshot's xmin,
    -- because ids are not commit order and a late committer must never be skipped.
    txid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    source      text        NOT NULL
                CHECK (source IN ('trigger', 'logical', 'redis', 'stripe', 'api')),
    table_name  text,
    op          text        NOT NULL
                CHECK (op IN ('insert', 'update', 'delete', 'truncate', 'event')),
    user_id     text,
    event       text,
    activity    boolean     NOT NULL DEFAULT false,
    data        jsonb,
    old_data    jsonb,
    lsn         pg_lsn,
    seq         integer,
    external_id text
);
CREATE INDEX events_cursor_idx ON skene.events (txid, id);
CREATE INDEX events_user_idx ON skene.events (user_id, occurred_at);

COMMENT ON TABLE skene.events IS
    'One row per captured change or ingested event. The listener consumes it in (txid, id) order.';

CREATE TABLE skene.cursors (
    name       text PRIMARY KEY,
    txid       xid8        NOT NULL DEFAULT '0',
    event_id   bigint      NOT NULL DEFAULT 0,
    processed     bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    last_error_at timestamptz
);

-- Listeners announce themselves here. While one is idle it sets sleeping_until, and only then do
-- capture triggers NOTIFY: a wake-up hint that costs writers nothing while the listener is busy.
CREATE UNLOGGED TABLE skene.listeners (
    listener       text PRIMARY KEY,
    pid            integer     NOT NULL,
    host           text        NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz NOT NULL DEFAULT now(),
    sleeping_until timestamptz
);

CREATE TABLE skene.captured_tables (
    table_name       text PRIMARY KEY,
    mode             text        NOT NULL CHECK (mode IN ('trigger', 'logical')),
    role             text        NOT NULL CHECK (role IN ('users', 'activity')),
    user_id_column   text        NOT NULL,
    timestamp_column text,
    event_column     text,
    definition_hash  text        NOT NULL,
    installed_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE skene.meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE skene.user_activity (
    user_id          text PRIMARY KEY,
    first_seen_at    timestamptz NOT NULL,
    last_activity_at timestamptz NOT NULL,
    last_event       text,
    last_event_data  jsonb,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_activity_last_idx ON skene.user_activity (last_activity_at);

-- Daily counts per (user, event), added in the same transaction that advances the listener's
-- cursor: a batch that rolls back (crash, error) is counted again from scratch, never twice.
CREATE TABLE skene.activity_daily (
    user_id text    NOT NULL,
    day     date    NOT NULL,
    event   text    NOT NULL,
    n       integer NOT NULL,
    PRIMARY KEY (user_id, day, event)
);
CREATE INDEX activity_daily_day_idx ON skene.activity_daily (day);

CREATE TABLE skene.user_plans (
    user_id                text PRIMARY KEY,
    plan                   text        NOT NULL DEFAULT 'free',
    stripe_customer_id     text,
    stripe_subscription_id text,
    status                 text,
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- One function for every captured table. Arguments: user-id column, event-time column ('' =
-- transaction time), event-name column ('' = "<table>.<op>"), whether rows are user activity.
CREATE FUNCTION skene.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
    row_ jsonb;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO skene.events (source, table_name, op, event)
        VALUES ('trigger', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 'truncate',
                TG_TABLE_NAME || '.truncate');
    ELSE
        IF TG_OP = 'DELETE' THEN row_ := to_jsonb(OLD); ELSE row_ := to_jsonb(NEW); END IF;
        INSERT INTO skene.events (source, table_name, op, user_id, event, occurred_at, activity, data)
        VALUES ('trigger', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, lower(TG_OP),
                row_ ->> TG_ARGV[0],
                coalesce(row_ ->> nullif(TG_ARGV[2], ''), TG_TABLE_NAME || '.' || lower(TG_OP)),
                coalesce((row_ ->> nullif(TG_ARGV[1], ''))::timestamptz, now()),
                TG_ARGV[3]::boolean AND TG_OP <> 'DELETE',
                row_);
    END IF;
    IF EXISTS (SELECT 1 FROM skene.listeners WHERE sleeping_until > now()) THEN
        PERFORM pg_notify('skene_events', '');
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION skene.capture() IS
    'skene generic capture trigger: args (user_id column, timestamp column, event column, activity)';

CREATE TABLE skene.deliveries (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loop                text        NOT NULL,
    user_id             text        NOT NULL,
    step                integer     NOT NULL,
    episode             text        NOT NULL,
    channel             text        NOT NULL DEFAULT 'email',
    provider            text        NOT NULL,
    template            text        NOT NULL,
    variant             text,
    to_address          text,
    context             jsonb       NOT NULL DEFAULT '{}',
    state               text        NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'skipped')),
    attempts            integer     NOT NULL DEFAULT 0,
    max_attempts        integer     NOT NULL DEFAULT 4,
    backoff             text        NOT NULL DEFAULT 'exponential'
                        CHECK (backoff IN ('exponential', 'linear', 'fixed')),
    base_delay          interval    NOT NULL DEFAULT '2 seconds',
    max_delay           interval    NOT NULL DEFAULT '1 hour',
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    idempotency_key     text        NOT NULL,
    provider_message_id text,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    CONSTRAINT deliveries_once_per_episode UNIQUE (loop, user_id, step, episode),
    CONSTRAINT deliveries_idempotency_key UNIQUE (idempotency_key)
);
-- The sender's queue: only rows still to send are indexed.
CREATE INDEX deliveries_due_idx ON skene.deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_user_idx ON skene.deliveries (user_id, loop);

-- One row per (loop, user, episode): the funnel. enrolled -> met (condition held) -> sent ->
-- converted (the loop's goal), or expired/failed. Loop engine and freemium gate both write here.
CREATE TABLE skene.enrolments (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loop              text        NOT NULL,
    user_id           text        NOT NULL,
    episode           text        NOT NULL,
    variant           text,
    state             text        NOT NULL DEFAULT 'enrolled'
                      CHECK (state IN ('enrolled', 'met', 'sent', 'converted', 'expired', 'failed')),
    enrolled_at       timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    met_at            timestamptz,
    sent_at           timestamptz,
    converted_at      timestamptz,
    evaluations       integer     NOT NULL DEFAULT 0,
    last_evaluated_at timestamptz,
    last_error        text,
    context           jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT enrolments_once_per_episode UNIQUE (loop, user_id, episode)
);
CREATE INDEX enrolments_open_idx ON skene.enrolments (loop, user_id) WHERE state IN ('enrolled', 'met', 'sent');


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
-- 0004_email
-- The email exactly as first rendered (from, to, subject, html, text). A retry re-sends these
-- bytes: with the same idempotency key a provider rejects a different payload (a user renamed
-- meanwhile, "8 days ago" become "9 days ago"), so a retry must never re-render. html and text
-- are dropped once the email is sent; subject and recipient stay as the record of what went out.
ALTER TABLE skene.deliveries ADD COLUMN rendered jsonb;

-- A row in state 'sending' carries its lease expiry in next_attempt_at: when it passes, the
-- sender that claimed it is presumed dead and the row is retried with the same idempotency key.
CREATE INDEX deliveries_lease_idx ON skene.deliveries (next_attempt_at) WHERE state = 'sending';

-- One NOTIFY per enqueueing statement (folded per transaction by PostgreSQL). Deliveries are
-- inserted by the listener's batch transactions, never by the app's own writes, so the global
-- commit lock a NOTIFY takes costs nothing on the app's hot path.
CREATE FUNCTION skene.notify_deliveries() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    PERFORM pg_notify('skene_deliveries', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_notify AFTER INSERT ON skene.deliveries
FOR EACH STATEMENT EXECUTE FUNCTION skene.notify_deliveries();

-- Deliveries as a person reads them: newest first, with why a retry or a dead letter happened.
CREATE VIEW skene.delivery_log AS
SELECT d.id, d.state, d.loop, d.user_id, d.step, d.episode, d.template, d.variant, d.provider,
       d.to_address, d.rendered ->> 'subject' AS subject, d.attempts, d.max_attempts,
       CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
       CASE WHEN d.state = 'sending' THEN d.next_attempt_at END AS lease_expires_at,
       d.last_error, d.provider_message_id, d.idempotency_key, d.created_at, d.updated_at,
       d.sent_at
FROM skene.deliveries d
ORDER BY d.updated_at DESC, d.id DESC;
-- Events ingested from outside PostgreSQL (Stripe event ids, Redis Stream entry ids) carry an
-- external_id; the unique key makes a redelivered event a no-op. Partial, so rows captured by
-- triggers (no external_id) cost no extra index entry.
CREATE UNIQUE INDEX events_external_idx ON skene.events (source, external_id)
    WHERE external_id IS NOT NULL;

-- What Stripe told us, so usage windows can follow the billing cycle and an out-of-order
-- (older) webhook never overwrites a newer state.
ALTER TABLE skene.user_plans
    ADD COLUMN billing_anchor     timestamptz,
    ADD COLUMN current_period_end timestamptz,
    ADD COLUMN stripe_event_id    text,
    ADD COLUMN stripe_event_at    timestamptz;
CREATE INDEX user_plans_customer_idx ON skene.user_plans (stripe_customer_id);
CREATE INDEX user_plans_updated_idx ON skene.user_plans (updated_at);

-- Logical capture (0005): replayed changes are recognised by (commit LSN, position in the
-- transaction); the listener's checkpoint lives in skene.replication.
CREATE UNIQUE INDEX events_logical_key ON skene.events (lsn, seq) WHERE lsn IS NOT NULL;

-- The logical listener's own checkpoint (advisory: written about once a second, after the events
-- it describes; the exact resume point is the newest (lsn, seq) in skene.events).
CREATE TABLE skene.replication (
    slot                  text PRIMARY KEY,
    -- (last_lsn, last_seq): the newest event written. A replayed change at or below it is skipped.
    last_lsn              pg_lsn,
    last_seq              integer,
    -- Every transaction ending before flushed_lsn is in skene.events; streaming resumes here.
    flushed_lsn           pg_lsn      NOT NULL DEFAULT '0/0',
    last_commit_at        timestamptz,
    events                bigint      NOT NULL DEFAULT 0,
    -- Heartbeats (pg_logical_emit_message) keep an idle slot moving and measure lag in time.
    heartbeat_emitted_at  timestamptz,
    heartbeat_seen_sent_at timestamptz,
    heartbeat_seen_at     timestamptz,
    heartbeat_interval    interval    NOT NULL DEFAULT '10 seconds',
    -- Set when skene dropped (or the server invalidated) the slot: changes were not captured.
    lost_at               timestamptz,
    lost_reason           text,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
-- 0010_loops: no DDL. Freemium deliveries written before it (step = the 0-based index) are
-- renumbered to StepRef.number, the one step convention of every loop type.
