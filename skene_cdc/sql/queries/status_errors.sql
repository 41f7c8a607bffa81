-- The most recent problems still standing, newest first: a capture batch that failed (cleared
-- when the cursor advances again), deliveries not sent with their last error, loop evaluations
-- that failed, schedule firings that failed. Built with ||, not format(), whose placeholders would clash with the parameters.
WITH problems AS (
    SELECT c.last_error_at AS at, 'capture' AS source, 'cursor ' || c.name AS subject,
           c.last_error AS error
    FROM skene.cursors c
    WHERE c.last_error IS NOT NULL
  UNION ALL
    (SELECT d.updated_at, 'delivery',
            d.loop || ' #' || d.id || ' to user ' || d.user_id || ': ' || d.state
                || ' after ' || d.attempts || ' of ' || d.max_attempts || ' attempts',
            d.last_error
     FROM skene.deliveries d
     WHERE d.last_error IS NOT NULL AND d.state <> 'sent'
     ORDER BY d.updated_at DESC
     LIMIT %(limit)s)
  UNION ALL
    (SELECT coalesce(e.last_evaluated_at, e.enrolled_at), 'loop',
            e.loop || ', user ' || e.user_id || ' (' || e.state || ')',
            e.last_error
     FROM skene.enrolments e
     WHERE e.last_error IS NOT NULL
       -- an enrolment failed by its dead email: the delivery above already says why
       AND NOT EXISTS (SELECT 1 FROM skene.deliveries d
                       WHERE d.loop = e.loop AND d.user_id = e.user_id
                         AND d.episode = e.episode AND d.state = 'dead')
     ORDER BY coalesce(e.last_evaluated_at, e.enrolled_at) DESC
     LIMIT %(limit)s)
  UNION ALL
    (SELECT coalesce(f.finished_at, f.claimed_at), 'schedule',
            f.loop || ' step ' || f.step || ' firing of ' || to_char(f.fire_time, 'YYYY-MM-DD HH24:MI')
                || ' (' || f.state || ' after ' || f.attempts || ' attempts)',
            f.last_error
     FROM skene.schedule_firings f
     WHERE f.last_error IS NOT NULL AND f.state IN ('failed', 'dead')
     ORDER BY coalesce(f.finished_at, f.claimed_at) DESC
     LIMIT %(limit)s)
)
SELECT at, source, subject, error
FROM problems
ORDER BY at DESC NULLS LAST
LIMIT %(limit)s
