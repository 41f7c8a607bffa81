-- Read under the users' locks (lock_users.sql). `counted`: growth emails holding a frequency
-- slot within the longest window (sent, being sent, or waiting to retry; a dead, suppressed or
-- expired one freed its slot). `waiting`: the users' other due growth deliveries that compete
-- for the next slot; the sender ranks everyone by loop priority.
SELECT d.id, d.user_id, d.loop, d.counted_at, d.created_at, 'counted' AS kind
FROM skene.deliveries d
WHERE d.user_id = ANY(%(users)s::text[]) AND d.counted_at > now() - %(window)s::interval
  AND d.state IN ('pending', 'sending', 'sent')
UNION ALL
SELECT d.id, d.user_id, d.loop, NULL, d.created_at, 'waiting'
FROM skene.deliveries d
WHERE d.user_id = ANY(%(users)s::text[]) AND d.state = 'pending' AND d.counted_at IS NULL
  AND d.next_attempt_at <= now()
  AND skene.email_suppressed(d.user_id, d.to_address, d.loop) IS NULL
