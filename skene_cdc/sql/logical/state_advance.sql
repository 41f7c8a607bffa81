-- The writer's checkpoint, after the batches it describes have committed.
UPDATE skene.replication SET
    last_lsn = coalesce(%(last_lsn)s::pg_lsn, last_lsn),
    last_seq = coalesce(%(last_seq)s, last_seq),
    flushed_lsn = greatest(flushed_lsn, %(flushed_lsn)s::pg_lsn),
    last_commit_at = coalesce(%(commit_at)s, last_commit_at),
    events = events + %(n)s,
    heartbeat_seen_sent_at = coalesce(%(hb_sent)s, heartbeat_seen_sent_at),
    heartbeat_seen_at = coalesce(%(hb_seen)s, heartbeat_seen_at),
    updated_at = now()
WHERE slot = %(slot)s
