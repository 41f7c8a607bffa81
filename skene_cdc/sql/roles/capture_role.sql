-- The capture role {role}: created if missing, granted exactly what appending to the queue
-- needs, and made the owner of skene.capture() (never left to the role running migrate, which is
-- often a superuser). A non-superuser needs CREATEROLE, or a DBA creates the role first.
DO $roles$
DECLARE
    r text := {role};
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
