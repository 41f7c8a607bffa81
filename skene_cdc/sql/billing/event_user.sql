UPDATE skene.stripe_events SET user_id = %(user_id)s WHERE id = %(event_id)s
