"""Email: templates, providers and the sender that drains skene.deliveries.

What a delivery's `context` holds (built by skene_cdc.handlers.decision.delivery_context for
every loop type; all keys optional for the sender):
  user             the condition's row (a row names its user by `user_id`/`id`); at send time
                   keys it lacks (or has as NULL) are filled from the user's skene.users row.
  event            the triggering event as JSON-able data, None for schedules.
  personalization  {key: template string or {value, fallback}}; by default the loop's
                   action.personalization.
"""
