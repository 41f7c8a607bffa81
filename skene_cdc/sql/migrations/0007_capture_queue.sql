-- skene 0007: the lean capture queue (PgQ's shape) and a capture trigger that runs with no more
-- rights than appending to it.
--
-- Triggers append to one of three queue tables, each with a single index; the listener reads them
-- by transaction snapshots (see docs/architecture.md) and empties a drained table with TRUNCATE,
-- never DELETE. The table a row goes to follows from its own transaction id (4,096 ids per
-- table in turn, skene.queue_part): no shared state to read on the write path, and a writer
-- keeps writing to one table whatever happens meanwhile.
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
CREATE OR REPLACE FUNCTION skene.capture() RETURNS trigger
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
    EXECUTE format('GRANT SELECT ON SEQUENCE skene.wake TO %I', r);
    EXECUTE format('GRANT EXECUTE ON FUNCTION skene.queue_part(xid8), skene.queue_range(xid8), '
                   'skene.to_json_pinned(anyelement), '
                   'skene.capture_json(anyelement, boolean, text, text[]) TO %I', r);
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
