-- Can this connection run conditions: the reader role exists, this role may SET ROLE to it, and
-- skene.condition_rows is in place and the reader's.
SELECT r.oid IS NOT NULL
       AND pg_has_role(current_user, r.oid, 'MEMBER')
       AND p.oid IS NOT NULL AND p.proowner = r.oid AS ready
FROM (SELECT %(role)s::text AS name) want
LEFT JOIN pg_roles r ON r.rolname = want.name
LEFT JOIN pg_proc p ON p.oid = to_regprocedure('skene.condition_rows(text)')
