-- One UTC day of history. Takes a short exclusive lock on skene.events (never on an app table);
-- lock_timeout keeps a long reader from stalling the listener behind it.
SET LOCAL lock_timeout = '1s';
CREATE TABLE IF NOT EXISTS skene.{name} PARTITION OF skene.events
    FOR VALUES FROM ({start}) TO ({end});
