-- A user whose {column} is NULL or empty, among the first {sample} rows of the users table (a
-- bounded look: `check` must stay cheap on a large table). Read-only.
SELECT {id}::text AS user_id
FROM (SELECT {id}, {column} FROM {table} LIMIT {sample}) s
WHERE {column} IS NULL OR {column}::text = ''
LIMIT 1
