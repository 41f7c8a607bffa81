SELECT table_name, mode, role, user_id_column, timestamp_column, event_column, installed_at
FROM skene.captured_tables ORDER BY role DESC, table_name
