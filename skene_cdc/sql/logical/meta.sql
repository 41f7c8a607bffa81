-- What migrate recorded about logical capture: slot, publication, limit, replica identities it
-- changed (key 'replica_identity:<table>', value the original: d, n, f or i:<index>).
SELECT key, value FROM skene.meta
WHERE key IN ('slot', 'publication', 'max_slot_lag') OR key LIKE 'replica\_identity:%'
