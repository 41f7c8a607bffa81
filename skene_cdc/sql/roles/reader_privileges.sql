-- Every privilege granted directly to the reader role in this database, one row each. Objects the
-- role owns (skene.condition_rows) are left out: an owner's rights are not grants to revoke.
WITH r AS (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
       n.nspname AS schema, c.relname AS name, NULL::text AS "column", a.privilege_type AS privilege
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) a
WHERE a.grantee = (SELECT oid FROM r) AND c.relowner <> (SELECT oid FROM r)
UNION ALL
SELECT 'COLUMN', n.nspname, c.relname, att.attname, a.privilege_type
FROM pg_attribute att
JOIN pg_class c ON c.oid = att.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(att.attacl) a
WHERE a.grantee = (SELECT oid FROM r) AND NOT att.attisdropped AND c.relowner <> (SELECT oid FROM r)
UNION ALL
SELECT 'SCHEMA', n.nspname, NULL, NULL, a.privilege_type
FROM pg_namespace n
CROSS JOIN LATERAL aclexplode(n.nspacl) a
WHERE a.grantee = (SELECT oid FROM r) AND n.nspowner <> (SELECT oid FROM r)
UNION ALL
SELECT 'FUNCTION', n.nspname, p.proname || '(' || oidvectortypes(p.proargtypes) || ')', NULL,
       a.privilege_type
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
CROSS JOIN LATERAL aclexplode(p.proacl) a
WHERE a.grantee = (SELECT oid FROM r) AND p.proowner <> (SELECT oid FROM r)
UNION ALL
SELECT 'DATABASE', NULL, d.datname, NULL, a.privilege_type
FROM pg_database d
CROSS JOIN LATERAL aclexplode(d.datacl) a
WHERE d.datname = current_database() AND a.grantee = (SELECT oid FROM r)
ORDER BY 1, 2, 3, 4, 5
