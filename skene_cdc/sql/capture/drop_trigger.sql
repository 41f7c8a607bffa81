DROP TRIGGER IF EXISTS skene_capture ON {table};
DROP TRIGGER IF EXISTS skene_capture_insert ON {table};
DROP TRIGGER IF EXISTS skene_capture_update ON {table};
DROP TRIGGER IF EXISTS skene_capture_delete ON {table};
DROP TRIGGER IF EXISTS skene_capture_truncate ON {table};
