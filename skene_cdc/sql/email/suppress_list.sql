-- Active suppressions, newest first (`--all`: lifted ones too).
SELECT id, coalesce(address, 'user ' || user_id) AS subject, user_id, address, scope, reason,
       source, detail, created_at, removed_at
FROM skene.suppressions
WHERE %(all)s OR removed_at IS NULL
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
