-- Enrolled users of a waiting step still inside their window (`horizon` lets a listener that
-- catches up on a backlog honour events that happened before the window closed). Locked, in
-- user order: a sweep in another listener evaluating the same users waits, then sees them acted
-- on, so a failure is never counted twice and nothing deadlocks.
SELECT user_id, episode
FROM skene.enrolments
WHERE loop = %(loop)s AND step = %(step)s AND state = 'enrolled'
  AND (%(users)s::text[] IS NULL OR user_id = ANY(%(users)s::text[]))
  AND (expires_at IS NULL OR expires_at > %(horizon)s)
  AND (NOT %(due_only)s OR retry_at <= now())
ORDER BY user_id
FOR UPDATE
