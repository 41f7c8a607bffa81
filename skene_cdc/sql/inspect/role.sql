-- The connecting role and what it may create: schema skene (CREATE on the database) or, once
-- installed, changes to it (ownership of schema skene).
SELECT current_user AS "user",
       current_database() AS database,
       r.rolsuper AS superuser,
       has_database_privilege(current_database(), 'CREATE') AS can_create_schema,
       (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'skene') AS skene_owner,
       (SELECT pg_has_role(current_user, nspowner, 'USAGE') FROM pg_namespace
         WHERE nspname = 'skene') AS owns_skene
FROM pg_roles r
WHERE r.rolname = current_user
