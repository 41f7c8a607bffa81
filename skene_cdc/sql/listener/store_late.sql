-- Events of a day whose partition the batch had to make first (consume.sql stored the rest).
INSERT INTO skene.events (id, txid, occurred_at, source, table_name, op, user_id, event, activity,
                          data, old_data, lsn, seq, external_id, notes)
SELECT * FROM unnest(%(ids)s::bigint[], %(txids)s::text[]::xid8[], %(occurred)s::timestamptz[],
                     %(sources)s::text[], %(tables)s::text[], %(ops)s::text[], %(users)s::text[],
                     %(events)s::text[], %(activity)s::boolean[], %(data)s::jsonb[],
                     %(old)s::jsonb[], %(lsns)s::text[]::pg_lsn[], %(seqs)s::integer[],
                     %(externals)s::text[], %(notes)s::jsonb[])
