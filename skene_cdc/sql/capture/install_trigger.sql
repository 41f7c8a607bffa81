CREATE TRIGGER skene_capture AFTER INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION skene.capture({args});
COMMENT ON TRIGGER skene_capture ON {table} IS {comment};
CREATE TRIGGER skene_capture_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION skene.capture({args});
COMMENT ON TRIGGER skene_capture_truncate ON {table} IS {comment};
