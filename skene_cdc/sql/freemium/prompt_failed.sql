-- The period's upgrade prompt cannot be sent (no address): the funnel row says so, and nothing
-- is enqueued, as for every loop without an address.
UPDATE skene.enrolments SET state = 'failed', sent_at = NULL, last_error = %(error)s
WHERE id = %(id)s
