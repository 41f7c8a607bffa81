-- Every condition evaluation: read-only, bounded in time, and as the reader role, which may read
-- the configured tables and skene's read views and nothing else (docs/security.md).
SET LOCAL transaction_read_only = on; SET LOCAL statement_timeout = {timeout}; SET LOCAL ROLE {role}
