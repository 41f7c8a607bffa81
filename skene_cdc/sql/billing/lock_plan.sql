SELECT plan, stripe_event_id FROM skene.user_plans WHERE user_id = %(user_id)s FOR UPDATE
