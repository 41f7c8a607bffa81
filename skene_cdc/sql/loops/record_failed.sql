-- The evaluation failed (error or timeout): keep the error, retry per the loop's `recovery`
-- (backoff before the next try), and give up as 'failed' after `retries` retries.
UPDATE skene.enrolments
SET evaluations = evaluations + 1, last_evaluated_at = now(), failures = failures + 1,
    last_error = t.error,
    state = CASE WHEN failures + 1 > %(retries)s THEN 'failed' ELSE state END,
    retry_at = CASE WHEN failures + 1 > %(retries)s THEN NULL
                    ELSE now() + least(%(max_delay)s::interval, CASE %(backoff)s
                        WHEN 'fixed' THEN %(base_delay)s::interval
                        WHEN 'linear' THEN %(base_delay)s::interval * (failures + 1)
                        ELSE %(base_delay)s::interval * power(2, failures) END) END
FROM unnest(%(users)s::text[], %(errors)s::text[]) AS t(user_id, error)
WHERE loop = %(loop)s AND step = %(step)s AND state = 'enrolled'
  AND skene.enrolments.user_id = t.user_id
