-- Is the capture role (%(role)s) in place: existing, NOLOGIN and powerless, owning
-- skene.capture(), able to append to the queue; and may PUBLIC execute any skene function?
SELECT r.rolname IS NOT NULL AS role_exists,
       coalesce(NOT r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolcreaterole
                AND NOT r.rolcreatedb AND NOT r.rolbypassrls, false) AS role_powerless,
       (SELECT pg_get_userbyid(p.proowner) FROM pg_proc p
         WHERE p.oid = 'skene.capture()'::regprocedure) AS capture_owner,
       r.rolname IS NOT NULL
       AND has_table_privilege(r.rolname, 'skene.queue_0', 'INSERT')
       AND has_table_privilege(r.rolname, 'skene.queue_1', 'INSERT')
       AND has_table_privilege(r.rolname, 'skene.queue_2', 'INSERT')
       AND has_sequence_privilege(r.rolname, 'skene.queue_seq', 'USAGE')
       AND has_sequence_privilege(r.rolname, 'skene.wake', 'SELECT')
       AND has_function_privilege(r.rolname, 'skene.queue_part(xid8)', 'EXECUTE')
       AND has_function_privilege(r.rolname, 'skene.queue_range(xid8)', 'EXECUTE')
       AND has_function_privilege(r.rolname, 'skene.to_json_pinned(anyelement)', 'EXECUTE')
       AND has_function_privilege(r.rolname, 'skene.capture_json(anyelement, boolean, text, text[])',
                                  'EXECUTE')
           AS role_granted,
       EXISTS (SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                WHERE p.pronamespace = 'skene'::regnamespace AND a.grantee = 0
                  AND a.privilege_type = 'EXECUTE') AS public_execute
FROM (SELECT 1) one
LEFT JOIN pg_roles r ON r.rolname = %(role)s
