INSERT INTO skene.stripe_unknown_users AS u (user_ref, reason, last_event_id)
VALUES (%(user_ref)s, %(reason)s, %(event_id)s)
ON CONFLICT (user_ref) DO UPDATE SET
    reason = excluded.reason, events = u.events + 1, last_seen_at = now(),
    last_event_id = excluded.last_event_id
