-- Capture on a partitioned table, a partition or an inheritance parent or child: every change
-- per row (a statement trigger fires only for the table a statement names, and PostgreSQL clones
-- row triggers of a partitioned table onto its partitions), TRUNCATE per statement.
CREATE TRIGGER skene_capture AFTER INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION skene.capture({args});
COMMENT ON TRIGGER skene_capture ON {table} IS {comment};
CREATE TRIGGER skene_capture_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION skene.capture({args});
COMMENT ON TRIGGER skene_capture_truncate ON {table} IS {comment};
