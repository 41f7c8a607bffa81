-- The reader role as it is now, and what the connecting role may do about it. NULL columns
-- mean the role does not exist yet.
SELECT current_user AS "user",
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS user_is_superuser,
       (SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user) AS user_can_create_roles,
       r.oid IS NOT NULL AS exists,
       r.rolsuper AS superuser,
       r.rolbypassrls AS bypassrls,
       r.rolcreaterole AS createrole,
       r.rolcreatedb AS createdb,
       r.rolcanlogin AS login,
       r.rolreplication AS replication,
       CASE WHEN r.oid IS NOT NULL THEN pg_has_role(current_user, r.oid, 'MEMBER') END AS user_is_member,
       CASE WHEN r.oid IS NOT NULL THEN EXISTS (
           SELECT 1 FROM pg_auth_members m
           WHERE m.roleid = r.oid AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)
       ) END AS user_granted,
       CASE WHEN r.oid IS NOT NULL THEN pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION') END
           AS user_is_admin,
       coalesce((SELECT array_agg(m.roleid::regrole::text ORDER BY 1) FROM pg_auth_members m
                 WHERE m.member = r.oid), '{}') AS member_of
FROM (SELECT %(role)s::text AS name) want
LEFT JOIN pg_roles r ON r.rolname = want.name
