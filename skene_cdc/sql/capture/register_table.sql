INSERT INTO skene.captured_tables AS t
    (table_name, mode, role, user_id_column, timestamp_column, event_column, definition_hash)
VALUES ({table_name}, {mode}, {role}, {user_id_column}, {timestamp_column}, {event_column}, {hash})
ON CONFLICT (table_name) DO UPDATE SET
    mode = excluded.mode, role = excluded.role, user_id_column = excluded.user_id_column,
    timestamp_column = excluded.timestamp_column, event_column = excluded.event_column,
    definition_hash = excluded.definition_hash, installed_at = now();
