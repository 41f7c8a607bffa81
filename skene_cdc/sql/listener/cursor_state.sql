-- Where the consumer is: everything visible in `tick` is done; the window being consumed is what
-- `next_tick` sees and `tick` does not, from (pos_txid, pos_seq) on.
SELECT tick::text AS tick, next_tick::text AS next_tick,
       coalesce(pos_txid, '0')::text AS pos_txid, coalesce(pos_seq, 0) AS pos_seq
FROM skene.cursors WHERE name = %(cursor)s
