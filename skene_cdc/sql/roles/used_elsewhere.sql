-- Where else one of skene's roles (capture or reader, %(role)s) is used: other databases holding
-- its grants or objects (one migrate per database, one role per cluster), and grants on shared
-- objects. DROP ROLE would fail on any of them, and must not take another database's capture or
-- conditions down. Run after schema skene is gone, so this database's own uses are gone too.
SELECT coalesce(d.datname, 'shared objects') AS place
FROM pg_shdepend s
LEFT JOIN pg_database d ON d.oid = s.dbid
WHERE s.refclassid = 'pg_authid'::regclass
  AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
  AND s.dbid <> (SELECT oid FROM pg_database WHERE datname = current_database())
GROUP BY 1
ORDER BY 1
