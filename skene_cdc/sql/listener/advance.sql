-- After a batch: either the window is done (tick moves to next_tick) or the position moves.
UPDATE skene.cursors
SET tick = CASE WHEN %(done)s THEN %(next_tick)s::pg_snapshot ELSE tick END,
    next_tick = CASE WHEN %(done)s THEN NULL ELSE %(next_tick)s::pg_snapshot END,
    pos_txid = CASE WHEN %(done)s THEN NULL ELSE %(pos_txid)s::xid8 END,
    pos_seq = CASE WHEN %(done)s THEN NULL ELSE %(pos_seq)s::bigint END,
    processed = processed + %(n)s, repaired = repaired + %(repaired)s,
    quarantined = quarantined + %(quarantined)s,
    last_error = CASE WHEN %(n)s > 0 THEN NULL ELSE last_error END, updated_at = now()
WHERE name = %(cursor)s
