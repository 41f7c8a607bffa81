UPDATE skene.schedule_firings
SET state = %(state)s, finished_at = now(), attempts = %(attempts)s, matched = %(matched)s,
    enqueued = %(enqueued)s, last_error = %(error)s, retry_at = %(retry_at)s,
    claimed_by = %(claimed_by)s
WHERE id = %(id)s
