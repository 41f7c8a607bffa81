SELECT id, occurred_at, captured_at, source, table_name, op, user_id, event, data
FROM skene.events
WHERE (%(user_id)s::text IS NULL OR user_id = %(user_id)s)
  AND id > %(after)s
ORDER BY id DESC
LIMIT %(limit)s
