DROP TABLE IF EXISTS skene.stripe_unknown_users, skene.stripe_customers,
    skene.stripe_subscriptions, skene.stripe_events;
