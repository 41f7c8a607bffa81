-- Seconds since the listener last wrote its checkpoint (a batch or a heartbeat).
SELECT extract(epoch FROM now() - updated_at)::float8 AS idle_seconds
FROM skene.replication
WHERE slot = %(slot)s
