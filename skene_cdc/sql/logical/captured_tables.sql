-- Tables migrate registered for logical capture, and how their rows map to events.
SELECT table_name, role, user_id_column, timestamp_column, event_column
FROM skene.captured_tables
WHERE mode = 'logical'
