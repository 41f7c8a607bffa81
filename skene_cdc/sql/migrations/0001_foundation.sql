-- skene 0001: the events table, the listener's checkpoint, the per-user activity rollup behind
-- skene.users, and the one generic capture function every captured table's trigger calls.

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
