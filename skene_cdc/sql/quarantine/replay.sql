-- Put quarantined changes back into the capture queue as new rows (a new transaction id, so the
-- consumer reads them again), and mark them replayed. {queue} is the current queue table, read
-- after this transaction took its id (see rotation.py).
WITH picked AS (
    UPDATE skene.quarantine SET replayed_at = now()
    WHERE replayed_at IS NULL AND (%(all)s OR id = ANY (%(ids)s::bigint[]))
    RETURNING id, tbl, op, at, data, meta
), queued AS (
    INSERT INTO skene.{queue} (tbl, op, at, data, meta)
    SELECT tbl, op, at, data::json, meta FROM picked ORDER BY id
    RETURNING 1
)
SELECT (SELECT count(*) FROM queued) AS replayed
