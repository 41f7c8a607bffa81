-- Formatted with the app's users table and columns from skene.yaml (app.users).
SELECT {id}::text AS user_id FROM {table} WHERE {column}::text = %(customer)s LIMIT 1
