-- A subscription's state, kept only if it is newer than the stored one by the ordering key
-- (see skene.stripe_subscriptions). Returns no row when the stored state is newer (stale).
INSERT INTO skene.stripe_subscriptions AS s
    (id, customer_id, user_ref, status, priced, billing_anchor, current_period_end, source, final,
     seen_object, state_at, status_rank, event_id, object, updated_at)
VALUES (%(id)s, %(customer)s, %(user_ref)s, %(status)s, %(priced)s, to_timestamp(%(anchor)s),
        to_timestamp(%(period_end)s), %(source)s, %(final)s, %(seen_object)s,
        to_timestamp(%(at)s), %(rank)s, %(event_id)s, %(object)s, now())
ON CONFLICT (id) DO UPDATE SET
    customer_id = coalesce(excluded.customer_id, s.customer_id),
    user_ref = excluded.user_ref,
    status = excluded.status,
    priced = excluded.priced,
    -- A stand-in (checkout, invoice) knows no cycle: keep the one an object gave.
    billing_anchor = coalesce(excluded.billing_anchor, s.billing_anchor),
    current_period_end = coalesce(excluded.current_period_end, s.current_period_end),
    source = excluded.source,
    final = excluded.final,
    seen_object = excluded.seen_object,
    state_at = excluded.state_at,
    status_rank = excluded.status_rank,
    event_id = excluded.event_id,
    object = coalesce(excluded.object, s.object),
    updated_at = now()
WHERE (excluded.final, excluded.seen_object, excluded.state_at, excluded.status_rank,
       coalesce(excluded.current_period_end, '-infinity'), excluded.event_id)
    > (s.final, s.seen_object, s.state_at, s.status_rank,
       coalesce(s.current_period_end, '-infinity'), s.event_id)
RETURNING id
