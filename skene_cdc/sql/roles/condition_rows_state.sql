-- skene.condition_rows as installed: its owner and the definition hash in its comment.
SELECT pg_get_userbyid(p.proowner) AS owner, p.prosecdef AS definer,
       coalesce(obj_description(p.oid, 'pg_proc'), '') AS comment,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p
WHERE p.oid = to_regprocedure('skene.condition_rows(text)')
