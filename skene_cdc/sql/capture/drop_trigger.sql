DROP TRIGGER IF EXISTS skene_capture ON {table};
DROP TRIGGER IF EXISTS skene_capture_truncate ON {table};
