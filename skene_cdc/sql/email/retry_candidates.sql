-- `skene-cdc deliveries retry`: dead deliveries, and pending ones waiting on a retry after a
-- failed attempt, that match the filters (NULL: any). Locked, so a running sender and a second
-- `retry` never work on the same rows at once.
SELECT id, loop, user_id, step, episode, template, to_address, context, rendered, state,
       attempts, last_error
FROM skene.deliveries
WHERE (state = 'dead' OR (state = 'pending' AND last_error IS NOT NULL))
  AND (%(loop)s::text IS NULL OR loop = %(loop)s::text)
  AND (%(template)s::text IS NULL OR template = %(template)s::text)
  AND (%(user_id)s::text IS NULL OR user_id = %(user_id)s::text)
  AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
ORDER BY id
FOR UPDATE SKIP LOCKED
