-- Evaluated, condition not (yet) met.
UPDATE skene.enrolments
SET evaluations = evaluations + 1, last_evaluated_at = now(), failures = 0, retry_at = NULL,
    last_error = NULL
WHERE loop = %(loop)s AND step = %(step)s AND state = 'enrolled'
  AND user_id = ANY(%(users)s::text[])
