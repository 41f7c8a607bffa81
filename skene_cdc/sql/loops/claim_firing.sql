-- Claim one cron firing. The caller holds an advisory lock on the same key, so a second listener
-- skips instead of waiting; the unique key makes a firing that already ran a no-op. The row
-- commits together with the firing's enrolments and deliveries.
INSERT INTO skene.schedule_firings (loop, step, fire_time, manual, claimed_by)
VALUES (%(loop)s, %(step)s, %(fire_time)s, %(manual)s, %(claimed_by)s)
ON CONFLICT ON CONSTRAINT schedule_firings_once DO NOTHING
RETURNING id, attempts
