-- Lift suppressions (the rows stay, with removed_at, as the record). scope NULL: every scope.
UPDATE skene.suppressions
SET removed_at = now(), removed_by = %(by)s
WHERE removed_at IS NULL
  AND (user_id = %(user_id)s OR address = lower(%(address)s))
  AND (%(scope)s::text IS NULL OR scope = %(scope)s)
RETURNING id, user_id, address, scope, reason
