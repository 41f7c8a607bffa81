-- After an asynchronous commit: where WAL is inserted now (at or past that commit) and how far
-- it is flushed to disk. A batch is durable once flushed passes its insert position.
SELECT pg_current_wal_insert_lsn()::text AS inserted, pg_current_wal_flush_lsn()::text AS flushed
