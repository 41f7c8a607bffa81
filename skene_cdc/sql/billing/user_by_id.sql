-- Formatted with the app's users table and id column from skene.yaml (app.users). The reference
-- must be the id exactly as PostgreSQL prints it: ' 18' and '018' name no user even where the
-- id is an integer. A reference the id's type cannot hold raises (caught: an unknown user).
SELECT u.{id}::text AS user_id FROM {table} u
WHERE u.{id} = %(ref)s AND u.{id}::text = %(ref_text)s::text
