-- `skene-cdc status`: the latest deliveries that failed (retrying or dead), and why.
SELECT id, state, loop, user_id, template, attempts, max_attempts, updated_at,
       left(last_error, 300) AS last_error
FROM skene.deliveries
WHERE last_error IS NOT NULL AND state IN ('pending', 'sending', 'dead')
ORDER BY updated_at DESC, id DESC
LIMIT 5
