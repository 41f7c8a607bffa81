-- A row that fails on its own while the rest of its batch goes through: kept whole with why.
INSERT INTO skene.quarantine (cursor, txid, seq, tbl, table_name, op, at, data, meta, error)
SELECT %(cursor)s, q.txid, q.seq, q.tbl, ct.table_name, q.op, q.at, q.data::text, q.meta, %(error)s
FROM skene.queue q
LEFT JOIN skene.captured_tables ct ON ct.relid = q.tbl
WHERE q.txid = %(txid)s::xid8 AND q.seq = %(seq)s
