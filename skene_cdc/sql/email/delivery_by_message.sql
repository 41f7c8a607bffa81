-- The delivery a provider event is about, by the provider's message id.
SELECT id, loop, user_id, step, episode, template, variant, to_address, sent_at
FROM skene.deliveries
WHERE provider_message_id = %(message_id)s
ORDER BY id
LIMIT 1
