-- skene 0007: the lean capture queue (PgQ's shape) and a capture trigger that runs with no more
-- rights than appending to it.
--
-- Triggers append to one of three queue tables, each with a single index; the listener reads them
-- by transaction snapshots (see docs/architecture.md) and empties a drained table with TRUNCATE,
-- never DELETE. Which table is current is the value of a sequence, read without a query
-- (pg_sequence_last_value) and, unlike a table, read the same under every isolation level.
CREATE SEQUENCE skene.queue_rotation MINVALUE 0 MAXVALUE 2 START 0 CYCLE;
SELECT setval('skene.queue_rotation', 0, true);
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
    'Captured changes not yet moved into skene.events (three rotating tables, one view).';

-- closed_xmax: set when the table stopped being current; every row in it belongs to a
-- transaction below it, so once the consumer's snapshot has passed it the table is TRUNCATEd.
CREATE TABLE skene.queue_tables (
    part        smallint PRIMARY KEY,
    opened_at   timestamptz,
    closed_at   timestamptz,
    closed_xmax xid8
);
INSERT INTO skene.queue_tables (part, opened_at) VALUES (0, now()), (1, NULL), (2, NULL);

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

-- The capture trigger. SECURITY DEFINER so the app's roles need no rights on schema skene, but
-- owned by a NOLOGIN role that may only append to the queue: to_json() runs any cast to json
-- the table's owner defined for their own types, and such a cast then runs with that role's
-- rights and nothing more. Its SET clauses pin every setting the JSON depends on, so a writer's
-- IntervalStyle, bytea_output, extra_float_digits, TimeZone or search_path (which decides how a
-- regclass prints) cannot change what is captured; logical capture's walsender runs with the
-- same settings (listener/pgjson.py). Names are schema-qualified all the same.
-- Arguments: [0] 'include' | 'exclude' | 'all', [1] the column list for it (text[] literal),
-- [2] 'keep' to capture updates that change no captured column. Anything else in [0] (the
-- arguments of triggers installed before 0007, until migrate replaces them) means 'all'.
CREATE OR REPLACE FUNCTION skene.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET IntervalStyle = 'postgres'
SET extra_float_digits = '1' SET bytea_output = 'hex' SET search_path = ''
AS $fn$
DECLARE
    row_ json;
    old_ json;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        row_ := NULL;
    ELSIF TG_NARGS < 2 OR TG_ARGV[0] NOT IN ('include', 'exclude') THEN
        IF TG_OP = 'DELETE' THEN row_ := pg_catalog.to_json(OLD); ELSE row_ := pg_catalog.to_json(NEW); END IF;
        IF TG_OP = 'UPDATE' THEN old_ := pg_catalog.to_json(OLD); END IF;
    ELSE
        -- Only the listed columns leave the table (a secret is never copied, not even briefly).
        SELECT pg_catalog.json_object_agg(j.key, j.value) INTO row_
        FROM pg_catalog.json_each(pg_catalog.to_json(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END)) j
        WHERE (j.key = ANY (TG_ARGV[1]::text[])) = (TG_ARGV[0] = 'include');
        IF TG_OP = 'UPDATE' THEN
            SELECT pg_catalog.json_object_agg(j.key, j.value) INTO old_
            FROM pg_catalog.json_each(pg_catalog.to_json(OLD)) j
            WHERE (j.key = ANY (TG_ARGV[1]::text[])) = (TG_ARGV[0] = 'include');
        END IF;
    END IF;
    -- An update that changed no captured column (a login touching only an excluded column) is
    -- not an event.
    IF TG_OP = 'UPDATE' AND (TG_NARGS < 3 OR TG_ARGV[2] <> 'keep')
       AND row_::text IS NOT DISTINCT FROM old_::text THEN
        RETURN NULL;
    END IF;
    CASE pg_catalog.pg_sequence_last_value('skene.queue_rotation'::pg_catalog.regclass)
        WHEN 0 THEN
            INSERT INTO skene.queue_0 (tbl, op, data) VALUES (TG_RELID, pg_catalog.lower(TG_OP), row_);
        WHEN 1 THEN
            INSERT INTO skene.queue_1 (tbl, op, data) VALUES (TG_RELID, pg_catalog.lower(TG_OP), row_);
        ELSE
            INSERT INTO skene.queue_2 (tbl, op, data) VALUES (TG_RELID, pg_catalog.lower(TG_OP), row_);
    END CASE;
    IF pg_catalog.pg_sequence_last_value('skene.wake'::pg_catalog.regclass)::float8
       > pg_catalog.date_part('epoch', pg_catalog.now()) THEN
        PERFORM pg_catalog.pg_notify('skene_events', '');
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION skene.capture() IS
    'skene generic capture trigger: appends the row as json to the current queue table';

-- The role that owns it, created here so the function is never owned by the (often superuser)
-- role running the migration. `migrate` passes the configured name as skene.capture_role.
DO $roles$
DECLARE
    r text := coalesce(nullif(current_setting('skene.capture_role', true), ''), 'skene_capture');
    super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'skene needs the NOLOGIN role %, and % may not create roles', r, current_user
                USING HINT = format('Ask a superuser to run: CREATE ROLE %I NOLOGIN; GRANT %I TO %I; '
                                    'then run skene-cdc migrate again', r, r, current_user);
        END;
    END IF;
    IF NOT super AND NOT pg_has_role(current_user, r, 'MEMBER') THEN
        EXECUTE format('GRANT %I TO %I', r, current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA skene TO %I', r);
    EXECUTE format('GRANT INSERT ON skene.queue_0, skene.queue_1, skene.queue_2 TO %I', r);
    EXECUTE format('GRANT USAGE ON SEQUENCE skene.queue_seq TO %I', r);
    EXECUTE format('GRANT SELECT ON SEQUENCE skene.queue_rotation, skene.wake TO %I', r);
    IF NOT super THEN  -- a new owner needs CREATE on the schema, but only for the change itself
        EXECUTE format('GRANT CREATE ON SCHEMA skene TO %I', r);
    END IF;
    EXECUTE format('ALTER FUNCTION skene.capture() OWNER TO %I', r);
    IF NOT super THEN
        EXECUTE format('REVOKE CREATE ON SCHEMA skene FROM %I', r);
    END IF;
END
$roles$;

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
