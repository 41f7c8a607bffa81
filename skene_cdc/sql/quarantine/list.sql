-- Quarantined changes, newest first (replayed ones only with --all).
SELECT id, quarantined_at, cursor, coalesce(table_name, meta ->> 'source') AS source, op,
       txid::text AS txid, seq, error, replayed_at, left(coalesce(data, meta::text), 200) AS data
FROM skene.quarantine
WHERE %(all)s OR replayed_at IS NULL
ORDER BY id DESC
