-- What migrate last built: the view's hash (in its comment), and whether both functions exist.
SELECT obj_description(to_regclass('skene.users'), 'pg_class') AS comment,
       to_regprocedure('skene.users_by_id(text[])') IS NOT NULL
       AND to_regprocedure('skene.users_rows()') IS NOT NULL AS complete
