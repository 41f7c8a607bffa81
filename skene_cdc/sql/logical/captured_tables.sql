-- Tables migrate registered for logical capture, and which of their columns leave them.
SELECT table_name, role, user_id_column, timestamp_column, event_column, column_mode,
       column_list, capture_unchanged
FROM skene.captured_tables
WHERE mode = 'logical'
