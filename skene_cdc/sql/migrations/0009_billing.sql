-- skene 0008: billing state from Stripe's objects, not from the last event (issue 16).
-- Every verified event is kept once, keyed by Stripe's event id (redeliveries are recognised
-- here, not in skene.events); each subscription keeps its latest state; each customer its
-- link to a user; and a user's plan in skene.user_plans is derived from all of them.
CREATE TABLE skene.stripe_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    created     timestamptz NOT NULL,
    -- The known user the event was applied to (NULL: it named none, or one that does not exist).
    user_id     text,
    -- The event as Stripe sent it; a \u0000 in a string is stored as U+FFFD (jsonb refuses NUL).
    data        jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_created_idx ON skene.stripe_events (created);

-- One row per subscription: the newest state Stripe told us. A state replaces the stored one
-- only when its ordering key is greater: (final, seen_object, state_at, status_rank,
-- current_period_end, event_id). So any delivery order ends in the same row.
CREATE TABLE skene.stripe_subscriptions (
    id                 text        PRIMARY KEY,
    customer_id        text,
    -- The user the subscription's own metadata names, as written (validated when derived).
    user_ref           text,
    status             text        NOT NULL,
    -- Some item has a non-zero (or unknown) price; a subscription of $0 prices is a free plan.
    priced             boolean     NOT NULL,
    billing_anchor     timestamptz,
    current_period_end timestamptz,
    -- subscription: the object in a customer.subscription.* event; refetch: read back from
    -- Stripe; checkout / invoice: a paid Checkout Session or invoice standing in until the
    -- object is seen; migrated: copied from skene.user_plans by this migration.
    source             text        NOT NULL
                       CHECK (source IN ('subscription', 'refetch', 'checkout', 'invoice', 'migrated')),
    -- canceled / incomplete_expired: Stripe never revives a subscription in these states.
    final              boolean     NOT NULL,
    seen_object        boolean     NOT NULL,
    -- The event's `created` (or when the object was re-read); ties go to the later status.
    state_at           timestamptz NOT NULL,
    status_rank        smallint    NOT NULL,
    event_id           text        NOT NULL DEFAULT '',
    object             jsonb,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_subscriptions_customer_idx ON skene.stripe_subscriptions (customer_id);
CREATE INDEX stripe_subscriptions_user_idx ON skene.stripe_subscriptions (user_ref);

-- Customer -> user, from any event that names the user (customer or subscription metadata,
-- Checkout's client_reference_id, an invoice's subscription details) or from the app's
-- users.stripe_customer_id column (rank 2, over events' rank 1). The greatest
-- (rank, linked_at, event_id) wins, whatever the delivery order.
CREATE TABLE skene.stripe_customers (
    id         text        PRIMARY KEY,
    user_ref   text        NOT NULL,
    source     text        NOT NULL,
    rank       smallint    NOT NULL,
    linked_at  timestamptz NOT NULL,
    event_id   text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_customers_user_idx ON skene.stripe_customers (user_ref);

-- User references that name no user of the app (no such id, or not a valid id at all): given
-- no plan, shown by `skene-cdc status`. A reference that later resolves is removed.
CREATE TABLE skene.stripe_unknown_users (
    user_ref      text        PRIMARY KEY,
    reason        text        NOT NULL,
    events        integer     NOT NULL DEFAULT 1,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_event_id text
);
