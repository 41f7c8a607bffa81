-- Empty a drained queue table. The lock first: from then on nobody can append to it. Then look
-- again whether transaction ids have reached its turn meanwhile (a writer may have appended and
-- committed before the lock): if they have, give up (raises) and leave it for its next turn.
-- lock_timeout: a reader holding it (psql) makes this give up too; no app writer waits on it.
SET LOCAL lock_timeout = '200ms';
LOCK TABLE skene.{table} IN ACCESS EXCLUSIVE MODE;
DO $check$
BEGIN
    IF skene.queue_range(pg_snapshot_xmax(pg_current_snapshot())) <> {current_range} THEN
        RAISE EXCEPTION 'transaction ids reached skene.{table_text} while draining it'
            USING ERRCODE = 'lock_not_available';
    END IF;
END
$check$;
TRUNCATE skene.{table};
