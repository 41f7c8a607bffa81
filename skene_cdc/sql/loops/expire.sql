-- The sweep: waiting enrolments whose window closed without the condition holding.
UPDATE skene.enrolments
SET state = 'expired'
WHERE loop = ANY(%(loops)s::text[]) AND state = 'enrolled' AND expires_at < now()
