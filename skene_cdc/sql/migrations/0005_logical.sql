-- skene 0005: logical replication capture. Replayed changes (the slot's position is only
-- persisted at checkpoints, and the listener may die between writing events and confirming them)
-- are recognised by (commit LSN, position in the transaction): at most one row each.
CREATE UNIQUE INDEX events_logical_key ON skene.events (lsn, seq) WHERE lsn IS NOT NULL;

-- The logical listener's own checkpoint (advisory: written about once a second, after the events
-- it describes; the exact resume point is the newest (lsn, seq) in skene.events).
CREATE TABLE skene.replication (
    slot                  text PRIMARY KEY,
    -- (last_lsn, last_seq): the newest event written. A replayed change at or below it is skipped.
    last_lsn              pg_lsn,
    last_seq              integer,
    -- Every transaction ending before flushed_lsn is in skene.events; streaming resumes here.
    flushed_lsn           pg_lsn      NOT NULL DEFAULT '0/0',
    last_commit_at        timestamptz,
    events                bigint      NOT NULL DEFAULT 0,
    -- Heartbeats (pg_logical_emit_message) keep an idle slot moving and measure lag in time.
    heartbeat_emitted_at  timestamptz,
    heartbeat_seen_sent_at timestamptz,
    heartbeat_seen_at     timestamptz,
    heartbeat_interval    interval    NOT NULL DEFAULT '10 seconds',
    -- Set when skene dropped (or the server invalidated) the slot: changes were not captured.
    lost_at               timestamptz,
    lost_reason           text,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
