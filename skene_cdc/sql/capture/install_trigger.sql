-- Capture on one table: inserts and deletes per statement, from the statement's transition table
-- (one queue INSERT per app statement), updates per row (old and new paired), TRUNCATE per
-- statement. Each trigger's comment carries the hash of this definition (drift detection).
CREATE TRIGGER skene_capture_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS skene_new
    FOR EACH STATEMENT EXECUTE FUNCTION skene.capture({args});
COMMENT ON TRIGGER skene_capture_insert ON {table} IS {comment};
CREATE TRIGGER skene_capture_update AFTER UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION skene.capture({args});
COMMENT ON TRIGGER skene_capture_update ON {table} IS {comment};
CREATE TRIGGER skene_capture_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS skene_old
    FOR EACH STATEMENT EXECUTE FUNCTION skene.capture({args});
COMMENT ON TRIGGER skene_capture_delete ON {table} IS {comment};
CREATE TRIGGER skene_capture_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION skene.capture({args});
COMMENT ON TRIGGER skene_capture_truncate ON {table} IS {comment};
