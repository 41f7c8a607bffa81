-- Rights the reader role has beyond reading (for `skene-cdc check`): one row per finding, with
-- what it is. Counts what it holds through PUBLIC and role memberships too, since a condition
-- could use either.
WITH r AS (SELECT oid, rolname FROM pg_roles WHERE rolname = %(role)s)
SELECT 'attribute' AS kind, a.what AS detail
FROM r, pg_roles x
CROSS JOIN LATERAL (VALUES
    (x.rolsuper, 'SUPERUSER'), (x.rolbypassrls, 'BYPASSRLS'), (x.rolcreaterole, 'CREATEROLE'),
    (x.rolcreatedb, 'CREATEDB'), (x.rolcanlogin, 'LOGIN'), (x.rolreplication, 'REPLICATION')
) AS a(has, what)
WHERE x.oid = r.oid AND a.has
UNION ALL
SELECT 'member of', g.name
FROM r, unnest(ARRAY['pg_read_server_files', 'pg_write_server_files',
                     'pg_execute_server_program', 'pg_signal_backend', 'pg_read_all_data',
                     'pg_write_all_data', 'pg_monitor', 'pg_read_all_settings',
                     'pg_read_all_stats']) AS g(name)
WHERE to_regrole(g.name) IS NOT NULL AND pg_has_role(r.oid, to_regrole(g.name), 'MEMBER')
UNION ALL
SELECT 'write', string_agg(p.priv, ', ' ORDER BY p.priv) || ' on ' || n.nspname || '.' || c.relname
FROM r, pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(priv)
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%%'
  AND has_table_privilege(r.oid, c.oid, p.priv)
GROUP BY n.nspname, c.relname
UNION ALL
SELECT 'create', 'CREATE on schema ' || n.nspname
FROM r, pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_t%%'
  AND has_schema_privilege(r.oid, n.oid, 'CREATE')
UNION ALL
SELECT 'create', 'CREATE on database ' || current_database()
FROM r
WHERE has_database_privilege(r.oid, current_database(), 'CREATE')
ORDER BY 1, 2
