-- SQL conditions run through this function, which belongs to the reader role and is SECURITY
-- DEFINER for one reason: inside a security-definer function PostgreSQL refuses to change the
-- role ("cannot set parameter role within security-definer function"). SET LOCAL ROLE alone can
-- be undone by the condition itself (set_config('role', ...) from a function that runs SQL given
-- as a string), so without this fence the reader's limits would hold only as long as the deny-list
-- in safety.py is complete. Here nothing a condition calls can leave the reader's rights.
-- The search_path is the caller's, so a condition names the app's tables as the app does.
-- Only the reader itself (its owner) may execute it.
CREATE OR REPLACE FUNCTION skene.condition_rows(statement text) RETURNS SETOF jsonb
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    RETURN QUERY EXECUTE 'SELECT to_jsonb(q) FROM (' || statement || E'\n) AS q';
END
$fn$;
COMMENT ON FUNCTION skene.condition_rows(text) IS {comment};
REVOKE ALL ON FUNCTION skene.condition_rows(text) FROM PUBLIC;
-- ALTER ... OWNER needs the new owner to have CREATE on the schema: for this statement only.
GRANT CREATE ON SCHEMA skene TO {role};
ALTER FUNCTION skene.condition_rows(text) OWNER TO {role};
REVOKE CREATE ON SCHEMA skene FROM {role};
