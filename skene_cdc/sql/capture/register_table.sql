INSERT INTO skene.captured_tables AS t
    (table_name, mode, role, user_id_column, timestamp_column, event_column, definition_hash,
     relid, column_mode, column_list, capture_unchanged)
VALUES ({table_name}, {mode}, {role}, {user_id_column}, {timestamp_column}, {event_column}, {hash},
        {relid}, {column_mode}, {column_list}, {capture_unchanged})
ON CONFLICT (table_name) DO UPDATE SET
    mode = excluded.mode, role = excluded.role, user_id_column = excluded.user_id_column,
    timestamp_column = excluded.timestamp_column, event_column = excluded.event_column,
    definition_hash = excluded.definition_hash, relid = excluded.relid,
    column_mode = excluded.column_mode, column_list = excluded.column_list,
    capture_unchanged = excluded.capture_unchanged, installed_at = now();
