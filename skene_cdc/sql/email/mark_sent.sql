-- Record a batch of provider-accepted sends in one statement, and move each matching enrolment
-- (same loop, user, episode) to 'sent' unless it already moved on (converted, expired).
-- A late completion from a sender whose lease expired is still the truth: the email went out.
WITH done AS (
    UPDATE skene.deliveries d
    SET state = 'sent', provider_message_id = u.message_id, sent_at = now(), updated_at = now(),
        last_error = NULL, rendered = d.rendered - 'html' - 'text'
    FROM unnest(%(ids)s::bigint[], %(message_ids)s::text[]) AS u(id, message_id)
    WHERE d.id = u.id AND d.state IN ('sending', 'pending', 'dead')
    RETURNING d.loop, d.user_id, d.episode, d.sent_at
)
UPDATE skene.enrolments e
SET sent_at = coalesce(e.sent_at, done.sent_at),
    -- 'failed': the email had died and was re-queued (`deliveries retry`); it went out now.
    last_error = CASE WHEN e.state = 'failed' THEN NULL ELSE e.last_error END,
    state = CASE WHEN e.state IN ('enrolled', 'met', 'failed') THEN 'sent' ELSE e.state END
FROM done
WHERE e.loop = done.loop AND e.user_id = done.user_id AND e.episode = done.episode
