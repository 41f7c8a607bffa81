-- consume.sql's source when the queue's own rows could not be read as jsonb: the same rows,
-- repaired by the listener (listener/sanitize.py), with a note of what was changed.
SELECT * FROM unnest(%(txids)s::text[]::xid8[], %(seqs)s::bigint[], %(tbls)s::oid[],
                     %(ops)s::text[], %(ats)s::timestamptz[], %(metas)s::jsonb[],
                     %(ds)s::jsonb[], %(notes)s::jsonb[])
       AS q(txid, seq, tbl, op, at, meta, d, notes)
