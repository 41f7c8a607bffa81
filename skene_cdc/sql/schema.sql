-- The declared schema of skene: what all migrations together build. A test checks that
-- they agree; a new migration changes this file too.
CREATE SCHEMA IF NOT EXISTS skene;

CREATE SEQUENCE skene.events_id_seq;
-- The same columns as before, so psql queries and SQL conditions read it unchanged. `notes`
-- says what capture could not keep as it was (a NUL in a string, a number jsonb cannot hold, an
-- event time outside any calendar).
CREATE TABLE skene.events (
    id          bigint      NOT NULL DEFAULT nextval('skene.events_id_seq'),
    txid        xid8        NOT NULL,
    occurred_at timestamptz NOT NULL,
    captured_at timestamptz NOT NULL DEFAULT now(),
    source      text        NOT NULL,
    table_name  text,
    op          text        NOT NULL,
    user_id     text,
    event       text,
    activity    boolean     NOT NULL DEFAULT false,
    data        jsonb,
    old_data    jsonb,
    lsn         pg_lsn,
    seq         integer,
    external_id text,
    notes       jsonb
) PARTITION BY RANGE (occurred_at);
ALTER SEQUENCE skene.events_id_seq OWNED BY skene.events.id;
CREATE INDEX events_user_idx ON skene.events (user_id, occurred_at);
COMMENT ON TABLE skene.events IS
    'Captured changes and ingested events, one partition per UTC day (events.retention drops old days).';

-- Events from outside PostgreSQL (Stripe event ids, Redis Stream entry ids) are recognised here,
-- so a redelivery is a no-op; rows older than the retention are forgotten with the history.
CREATE TABLE skene.external_events (
    source      text        NOT NULL,
    external_id text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, external_id)
);
-- A row the consumer could not process, kept whole with the error; everything else went on.
-- `skene-cdc quarantine replay` puts it back in the queue once the cause is fixed.
CREATE TABLE skene.quarantine (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cursor         text        NOT NULL,
    txid           xid8        NOT NULL,
    seq            bigint      NOT NULL,
    tbl            oid,
    table_name     text,
    op             text        NOT NULL,
    at             timestamptz NOT NULL,
    data           text,
    meta           jsonb,
    error          text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    replayed_at    timestamptz
);

CREATE TABLE skene.cursors (
    name       text PRIMARY KEY,
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

-- What Stripe told us, so usage windows can follow the billing cycle and an out-of-order
-- (older) webhook never overwrites a newer state.
ALTER TABLE skene.user_plans
    ADD COLUMN billing_anchor     timestamptz,
    ADD COLUMN current_period_end timestamptz,
    ADD COLUMN stripe_event_id    text,
    ADD COLUMN stripe_event_at    timestamptz;
CREATE INDEX user_plans_customer_idx ON skene.user_plans (stripe_customer_id);
CREATE INDEX user_plans_updated_idx ON skene.user_plans (updated_at);


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

-- 0007: the capture queue and its trigger (docs/architecture.md).
-- STABLE, not IMMUTABLE: pg_current_xact_id() is STABLE, and PostgreSQL inlines a SQL function
-- into its caller only if that does not make the caller's expression less stable than declared.
CREATE FUNCTION skene.queue_range(txid xid8) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT txid::text::bigint >> 12
$fn$;
CREATE FUNCTION skene.queue_part(txid xid8) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT (skene.queue_range(txid) % 3)::integer
$fn$;
-- Order inside a transaction. Cached per backend: a backend's values only grow, and a
-- transaction runs in one backend.
CREATE SEQUENCE skene.queue_seq CACHE 100;
-- While a listener sleeps it sets this to the epoch second it sleeps until, and only then do
-- triggers NOTIFY (NOTIFY takes a global lock at commit; see FACTS.md).
CREATE SEQUENCE skene.wake MINVALUE 0 START 0;
SELECT setval('skene.wake', 0, true);

CREATE TABLE skene.queue_0 (
    txid xid8        NOT NULL DEFAULT pg_current_xact_id(),
    seq  bigint      NOT NULL DEFAULT nextval('skene.queue_seq'),
    tbl  oid,
    op   text        NOT NULL,
    at   timestamptz NOT NULL DEFAULT now(),
    -- json, not jsonb: storing text cannot fail, whatever the row holds ('\u0000' in a json
    -- column, a number jsonb cannot hold). The listener converts and checks it.
    data json,
    -- Events that do not come from a captured row (Stripe, Redis, the gate, backfill, logical
    -- capture's positions) carry their fields here.
    meta jsonb
);
CREATE TABLE skene.queue_1 (LIKE skene.queue_0 INCLUDING DEFAULTS);
CREATE TABLE skene.queue_2 (LIKE skene.queue_0 INCLUDING DEFAULTS);
CREATE INDEX queue_0_txid_idx ON skene.queue_0 (txid, seq);
CREATE INDEX queue_1_txid_idx ON skene.queue_1 (txid, seq);
CREATE INDEX queue_2_txid_idx ON skene.queue_2 (txid, seq);
-- Drained tables are emptied often; autovacuum has nothing to do on them.
ALTER TABLE skene.queue_0 SET (autovacuum_enabled = false);
ALTER TABLE skene.queue_1 SET (autovacuum_enabled = false);
ALTER TABLE skene.queue_2 SET (autovacuum_enabled = false);

CREATE VIEW skene.queue AS
SELECT 0 AS part, q.* FROM skene.queue_0 q
UNION ALL SELECT 1, q.* FROM skene.queue_1 q
UNION ALL SELECT 2, q.* FROM skene.queue_2 q;
COMMENT ON VIEW skene.queue IS
    'Captured changes not yet moved into skene.events (three tables in turn, one view).';

-- The consumer's position is a pair of snapshots (PgQ's ticks): everything visible in `tick` is
-- consumed; the window being consumed is what is visible in `next_tick` and not in `tick`, read
-- in (txid, seq) order from (pos_txid, pos_seq). A transaction still open holds back only itself.
ALTER TABLE skene.cursors
    ADD COLUMN tick        pg_snapshot NOT NULL DEFAULT '1:1:',
    ADD COLUMN next_tick   pg_snapshot,
    ADD COLUMN pos_txid    xid8,
    ADD COLUMN pos_seq     bigint,
    ADD COLUMN repaired    bigint      NOT NULL DEFAULT 0,
    ADD COLUMN quarantined bigint      NOT NULL DEFAULT 0;

-- to_json(row) under the settings its output depends on, whatever the writer's session has:
-- TimeZone (timestamptz), DateStyle (ranges), IntervalStyle, extra_float_digits, bytea_output,
-- search_path (how a regclass prints). Logical capture's walsender runs with the same settings
-- (listener/pgjson.py). The trigger calls it only when the writer's session differs where the
-- table's column types care (SET clauses on every captured write cost ~6% of an app's writes).
CREATE FUNCTION skene.to_json_pinned(r anyelement) RETURNS json
LANGUAGE sql STABLE
SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET IntervalStyle = 'postgres'
SET extra_float_digits = '1' SET bytea_output = 'hex' SET search_path = ''
AS $fn$
    SELECT pg_catalog.to_json(r)
$fn$;

-- A captured row's JSON when more than plain to_json is needed: pinned settings, and only the
-- listed columns ('include') or all but them ('exclude'), so a secret never leaves the table.
CREATE FUNCTION skene.capture_json(r anyelement, pinned boolean, mode text, cols text[])
RETURNS json LANGUAGE sql STABLE AS $fn$
    SELECT CASE WHEN mode IN ('include', 'exclude')
                THEN (SELECT pg_catalog.json_object_agg(j.key, j.value)
                      FROM pg_catalog.json_each(s.j) j
                      WHERE (j.key = ANY (cols)) = (mode = 'include'))
                ELSE s.j END
    FROM (SELECT CASE WHEN pinned THEN skene.to_json_pinned(r)
                      ELSE pg_catalog.to_json(r) END AS j) s
$fn$;

-- The capture trigger. SECURITY DEFINER so the app's roles need no rights on schema skene, but
-- owned by a NOLOGIN role that may only append to the queue: to_json() runs any cast to json
-- the table's owner defined for their own types, and such a cast then runs with that role's
-- rights and nothing more. Names are schema-qualified and every operator has an exact match in
-- pg_catalog, so the caller's search_path cannot substitute code.
--
-- Inserts and deletes are captured per statement, from its transition table (skene_new /
-- skene_old): one INSERT ... SELECT into the queue per app statement, however many rows, with no
-- PL/pgSQL per row. Updates are captured per row (old and new must be paired to skip an update
-- that changed nothing captured); so are all changes of partitions and inheritance children,
-- where statement triggers would miss writes addressed to another table of the hierarchy.
--
-- Arguments: [0] 'include' | 'exclude' | 'all', [1] the column list for it (text[] literal),
-- [2] 'keep' to capture updates that change no captured column, [3] which session settings the
-- table's column types depend on (bits: 1 TimeZone, 2 DateStyle, 4 IntervalStyle,
-- 8 extra_float_digits, 16 bytea_output, 32 search_path: always pinned), [4] (row triggers of
-- a partitioned table) the oid of the configured table. Triggers installed before 0007 pass other
-- arguments until migrate replaces them: read as 'all', all pinned.
CREATE FUNCTION skene.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    mode text;
    pin integer;
    plain boolean;
    part integer;
    row_ json;
    old_ json;
BEGIN
    -- The common case first, in as few expressions as possible (PL/pgSQL prepares each one
    -- anew in every transaction): every column kept, and the writer's session printing the
    -- table's types as the pinned settings would.
    plain := TG_NARGS >= 4 AND TG_ARGV[0] = 'all'
        AND (TG_ARGV[3] = '0' OR (TG_ARGV[3] = '1' AND pg_catalog.current_setting('TimeZone')
                                  IN ('UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT')));
    IF NOT plain THEN
        mode := CASE WHEN TG_NARGS >= 4 THEN TG_ARGV[0] ELSE 'all' END;
        pin := CASE WHEN TG_NARGS >= 4 THEN TG_ARGV[3]::integer ELSE 63 END;
        plain := pin = 0 OR (pin & 32 = 0
            AND (pin & 1 = 0 OR pg_catalog.current_setting('TimeZone')
                                IN ('UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT'))
            AND (pin & 2 = 0 OR pg_catalog.current_setting('DateStyle') LIKE 'ISO,%')
            AND (pin & 4 = 0 OR pg_catalog.current_setting('IntervalStyle') = 'postgres')
            AND (pin & 8 = 0 OR pg_catalog.current_setting('extra_float_digits') IN ('1', '2', '3'))
            AND (pin & 16 = 0 OR pg_catalog.current_setting('bytea_output') = 'hex'));
        IF plain AND mode = 'all' THEN
            mode := NULL;  -- plain to_json after all: the fast statements below
        END IF;
    END IF;
    part := skene.queue_part(pg_catalog.pg_current_xact_id());

    IF TG_LEVEL = 'STATEMENT' AND TG_OP = 'INSERT' THEN
        IF mode IS NULL THEN
            CASE part
                WHEN 0 THEN INSERT INTO skene.queue_0 (tbl, op, data)
                            SELECT TG_RELID, 'insert', pg_catalog.to_json(n) FROM skene_new n;
                WHEN 1 THEN INSERT INTO skene.queue_1 (tbl, op, data)
                            SELECT TG_RELID, 'insert', pg_catalog.to_json(n) FROM skene_new n;
                ELSE INSERT INTO skene.queue_2 (tbl, op, data)
                     SELECT TG_RELID, 'insert', pg_catalog.to_json(n) FROM skene_new n;
            END CASE;
        ELSE
            CASE part
                WHEN 0 THEN INSERT INTO skene.queue_0 (tbl, op, data)
                            SELECT TG_RELID, 'insert', skene.capture_json(n, NOT plain, mode, TG_ARGV[1]::text[])
                            FROM skene_new n;
                WHEN 1 THEN INSERT INTO skene.queue_1 (tbl, op, data)
                            SELECT TG_RELID, 'insert', skene.capture_json(n, NOT plain, mode, TG_ARGV[1]::text[])
                            FROM skene_new n;
                ELSE INSERT INTO skene.queue_2 (tbl, op, data)
                     SELECT TG_RELID, 'insert', skene.capture_json(n, NOT plain, mode, TG_ARGV[1]::text[])
                     FROM skene_new n;
            END CASE;
        END IF;
    ELSIF TG_LEVEL = 'STATEMENT' AND TG_OP = 'DELETE' THEN
        IF mode IS NULL THEN
            CASE part
                WHEN 0 THEN INSERT INTO skene.queue_0 (tbl, op, data)
                            SELECT TG_RELID, 'delete', pg_catalog.to_json(o) FROM skene_old o;
                WHEN 1 THEN INSERT INTO skene.queue_1 (tbl, op, data)
                            SELECT TG_RELID, 'delete', pg_catalog.to_json(o) FROM skene_old o;
                ELSE INSERT INTO skene.queue_2 (tbl, op, data)
                     SELECT TG_RELID, 'delete', pg_catalog.to_json(o) FROM skene_old o;
            END CASE;
        ELSE
            CASE part
                WHEN 0 THEN INSERT INTO skene.queue_0 (tbl, op, data)
                            SELECT TG_RELID, 'delete', skene.capture_json(o, NOT plain, mode, TG_ARGV[1]::text[])
                            FROM skene_old o;
                WHEN 1 THEN INSERT INTO skene.queue_1 (tbl, op, data)
                            SELECT TG_RELID, 'delete', skene.capture_json(o, NOT plain, mode, TG_ARGV[1]::text[])
                            FROM skene_old o;
                ELSE INSERT INTO skene.queue_2 (tbl, op, data)
                     SELECT TG_RELID, 'delete', skene.capture_json(o, NOT plain, mode, TG_ARGV[1]::text[])
                     FROM skene_old o;
            END CASE;
        END IF;
    ELSE
        -- Per row (updates; every change of a partition or inheritance child), and TRUNCATE.
        IF TG_OP = 'TRUNCATE' THEN
            row_ := NULL;
        ELSIF mode IS NULL THEN
            IF TG_OP = 'DELETE' THEN row_ := pg_catalog.to_json(OLD); ELSE row_ := pg_catalog.to_json(NEW); END IF;
            IF TG_OP = 'UPDATE' THEN old_ := pg_catalog.to_json(OLD); END IF;
        ELSE
            IF TG_OP = 'DELETE' THEN
                row_ := skene.capture_json(OLD, NOT plain, mode, TG_ARGV[1]::text[]);
            ELSE
                row_ := skene.capture_json(NEW, NOT plain, mode, TG_ARGV[1]::text[]);
            END IF;
            IF TG_OP = 'UPDATE' THEN
                old_ := skene.capture_json(OLD, NOT plain, mode, TG_ARGV[1]::text[]);
            END IF;
        END IF;
        -- An update that changed no captured column (a login touching only an excluded
        -- column) is not an event.
        IF TG_OP = 'UPDATE' AND (TG_NARGS < 4 OR TG_ARGV[2] <> 'keep')
           AND row_::text IS NOT DISTINCT FROM old_::text THEN
            RETURN NULL;
        END IF;
        -- [4], when given, is the configured table a partition's rows belong to (PostgreSQL
        -- clones a partitioned table's row triggers onto its partitions, with the same arguments).
        CASE part
            WHEN 0 THEN
                INSERT INTO skene.queue_0 (tbl, op, data)
                VALUES (CASE WHEN TG_NARGS >= 5 THEN TG_ARGV[4]::oid ELSE TG_RELID END,
                        pg_catalog.lower(TG_OP), row_);
            WHEN 1 THEN
                INSERT INTO skene.queue_1 (tbl, op, data)
                VALUES (CASE WHEN TG_NARGS >= 5 THEN TG_ARGV[4]::oid ELSE TG_RELID END,
                        pg_catalog.lower(TG_OP), row_);
            ELSE
                INSERT INTO skene.queue_2 (tbl, op, data)
                VALUES (CASE WHEN TG_NARGS >= 5 THEN TG_ARGV[4]::oid ELSE TG_RELID END,
                        pg_catalog.lower(TG_OP), row_);
        END CASE;
    END IF;
    IF pg_catalog.pg_sequence_last_value('skene.wake'::pg_catalog.regclass)::float8
       > pg_catalog.date_part('epoch', pg_catalog.now()) THEN
        PERFORM pg_catalog.pg_notify('skene_events', '');
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION skene.capture() IS
    'skene generic capture trigger: appends rows as json to the queue table of their transaction';

-- Nobody but skene's own roles may call skene's functions: a role that could EXECUTE the capture
-- function could attach it to a table of its own. (Per-schema default privileges cannot take
-- PUBLIC's EXECUTE away, and the global ones are the app's: every function skene creates later
-- is revoked where it is created.)
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA skene FROM PUBLIC;

-- Captured tables are found by oid (a trigger knows TG_RELID), and carry their column lists so
-- logical capture leaves out the same columns as the trigger.
ALTER TABLE skene.captured_tables
    ADD COLUMN relid             oid,
    ADD COLUMN column_mode       text    NOT NULL DEFAULT 'all'
                                 CHECK (column_mode IN ('all', 'include', 'exclude')),
    ADD COLUMN column_list       text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN capture_unchanged boolean NOT NULL DEFAULT false;

-- Event times, as to_json writes timestamp, timestamptz and date values, read without ever
-- raising: anything that is not a real calendar time (BC, infinity, a year past 9999, a column
-- the app changed to text) is NULL, and the event keeps its capture time with a note.
CREATE FUNCTION skene.event_time(v text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $fn$
DECLARE
    m text[] := regexp_match(v, '^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})'
                                '(?::([0-9]{2})(\.[0-9]{1,6})?)?(([+-])([0-9]{2})(?::?[0-5][0-9]){0,2}|Z)?)?$');
BEGIN
    -- One test at a time: make_date() below must only ever see a valid year and month.
    IF m IS NULL OR m[1] = '0000' OR m[2]::int NOT BETWEEN 1 AND 12 THEN
        RETURN NULL;
    END IF;
    IF m[3]::int < 1
       OR m[3]::int > extract(day FROM make_date(m[1]::int, m[2]::int, 1) + interval '1 month - 1 day')
       OR coalesce(m[4]::int, 0) > 23 OR coalesce(m[5]::int, 0) > 59
       OR coalesce(m[6]::int, 0) > 59 OR coalesce(m[10]::int, 0) > 15 THEN
        RETURN NULL;
    END IF;
    IF m[8] IS NOT NULL THEN
        RETURN v::timestamptz;
    END IF;
    RETURN v::timestamp AT TIME ZONE 'UTC';  -- a time without a zone is UTC (docs/config.md)
END
$fn$;
REVOKE ALL ON FUNCTION skene.event_time(text) FROM PUBLIC;

-- Events that come from outside a captured table (Redis Streams, the freemium gate, Stripe),
-- appended to the current queue table like a captured row, their fields in `meta`. An event
-- whose (source, external_id) was seen before is dropped: a redelivery is a no-op. Returns the
-- external ids that were new.
CREATE FUNCTION skene.enqueue(p_source text, p_table_name text, p_user_ids text[],
                              p_events text[], p_activity boolean[],
                              p_occurred_at timestamptz[], p_data jsonb[], p_external_ids text[])
RETURNS TABLE (external_id text)
LANGUAGE plpgsql AS $fn$
BEGIN
    -- The table follows from this transaction's id, like a captured row's (skene.queue_part).
    RETURN QUERY EXECUTE format($q$
        WITH r AS (
            SELECT * FROM unnest($3, $4, $5, $6, $7, $8)
                AS r(user_id, event, activity, occurred_at, data, external_id)
        ), fresh AS (
            INSERT INTO skene.external_events AS x (source, external_id)
            SELECT $1, r.external_id FROM r WHERE r.external_id IS NOT NULL
            ON CONFLICT DO NOTHING
            RETURNING x.external_id
        ), ins AS (
            INSERT INTO skene.%I (op, data, meta)
            SELECT 'event', r.data::json,
                   jsonb_build_object('source', $1, 'table_name', $2, 'user_id', r.user_id,
                                      'event', r.event, 'activity', r.activity,
                                      'occurred_at', r.occurred_at, 'external_id', r.external_id)
            FROM r
            WHERE r.external_id IS NULL OR r.external_id IN (SELECT f.external_id FROM fresh f)
            RETURNING meta ->> 'external_id' AS external_id
        )
        SELECT external_id FROM ins$q$,
        'queue_' || skene.queue_part(pg_current_xact_id()))
    USING p_source, p_table_name, p_user_ids, p_events, p_activity, p_occurred_at, p_data,
          p_external_ids;
END
$fn$;
REVOKE ALL ON FUNCTION skene.enqueue(text, text, text[], text[], boolean[], timestamptz[], jsonb[], text[]) FROM PUBLIC;
-- What each cursor has still to read: the queue rows its tick does not see yet (psql, status,
-- and scheduled firings, which wait for captured activity before deciding).
CREATE VIEW skene.queue_pending AS
SELECT c.name AS cursor, q.part, q.txid, q.seq, q.tbl, q.op, q.at, q.data, q.meta
FROM skene.cursors c
CROSS JOIN LATERAL (
    SELECT * FROM skene.queue q
    WHERE (q.txid >= pg_snapshot_xmax(c.tick) OR q.txid = ANY (ARRAY(SELECT pg_snapshot_xip(c.tick))))
      AND NOT pg_visible_in_snapshot(q.txid, c.tick)
) q;
COMMENT ON VIEW skene.queue_pending IS
    'Captured changes each cursor has not consumed yet.';

-- skene 0008: billing state from Stripe's objects, not from the last event (issue 16).
-- Every verified event is kept once, keyed by Stripe's event id (redeliveries are recognised
-- here, not in skene.events); each subscription keeps its latest state; each customer its
-- link to a user; and a user's plan in skene.user_plans is derived from all of them.
CREATE TABLE skene.stripe_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    created     timestamptz NOT NULL,
    -- The known user the event was applied to (NULL: it named none, or one that does not exist).
    user_id     text,
    -- The event as Stripe sent it; a \u0000 in a string is stored as U+FFFD (jsonb refuses NUL).
    data        jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_created_idx ON skene.stripe_events (created);

-- One row per subscription: the newest state Stripe told us. A state replaces the stored one
-- only when its ordering key is greater: (final, seen_object, state_at, status_rank,
-- current_period_end, event_id). So any delivery order ends in the same row.
CREATE TABLE skene.stripe_subscriptions (
    id                 text        PRIMARY KEY,
    customer_id        text,
    -- The user the subscription's own metadata names, as written (validated when derived).
    user_ref           text,
    status             text        NOT NULL,
    -- Some item has a non-zero (or unknown) price; a subscription of $0 prices is a free plan.
    priced             boolean     NOT NULL,
    billing_anchor     timestamptz,
    current_period_end timestamptz,
    -- subscription: the object in a customer.subscription.* event; refetch: read back from
    -- Stripe; checkout / invoice: a paid Checkout Session or invoice standing in until the
    -- object is seen; migrated: copied from skene.user_plans by this migration.
    source             text        NOT NULL
                       CHECK (source IN ('subscription', 'refetch', 'checkout', 'invoice', 'migrated')),
    -- canceled / incomplete_expired: Stripe never revives a subscription in these states.
    final              boolean     NOT NULL,
    seen_object        boolean     NOT NULL,
    -- The event's `created` (or when the object was re-read); ties go to the later status.
    state_at           timestamptz NOT NULL,
    status_rank        smallint    NOT NULL,
    event_id           text        NOT NULL DEFAULT '',
    object             jsonb,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_subscriptions_customer_idx ON skene.stripe_subscriptions (customer_id);
CREATE INDEX stripe_subscriptions_user_idx ON skene.stripe_subscriptions (user_ref);

-- Customer -> user, from any event that names the user (customer or subscription metadata,
-- Checkout's client_reference_id, an invoice's subscription details) or from the app's
-- users.stripe_customer_id column (rank 2, over events' rank 1). The greatest
-- (rank, linked_at, event_id) wins, whatever the delivery order.
CREATE TABLE skene.stripe_customers (
    id         text        PRIMARY KEY,
    user_ref   text        NOT NULL,
    source     text        NOT NULL,
    rank       smallint    NOT NULL,
    linked_at  timestamptz NOT NULL,
    event_id   text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_customers_user_idx ON skene.stripe_customers (user_ref);

-- User references that name no user of the app (no such id, or not a valid id at all): given
-- no plan, shown by `skene-cdc status`. A reference that later resolves is removed.
CREATE TABLE skene.stripe_unknown_users (
    user_ref      text        PRIMARY KEY,
    reason        text        NOT NULL,
    events        integer     NOT NULL DEFAULT 1,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_event_id text
);

-- 0010: the sender that claimed a delivery (see email/claim_expired.sql).
ALTER TABLE skene.deliveries ADD COLUMN claimed_by integer;
-- 0011_loops: no DDL. Freemium deliveries written before it (step = the 0-based index) are
-- renumbered to StepRef.number, the one step convention of every loop type.
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
