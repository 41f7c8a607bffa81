"""`skene-cdc check` on the `stripe:` section: the webhook secret, where user ids come from, and
what refetching needs. Read-only, no network."""

from __future__ import annotations

from collections.abc import Iterator

from skene_cdc.billing.users import CUSTOMER_COLUMN, USER_ID_FROM_FIX, user_id_from_problem
from skene_cdc.checks import CheckContext, Problem


def check_stripe(ctx: CheckContext) -> Iterator[Problem]:
    cfg = ctx.config
    st = cfg.stripe
    if st is None:
        return
    where = cfg.where("stripe", "webhook_secret")
    if not st.webhook_secret.strip():
        yield Problem(where, "stripe.webhook_secret is empty",
                      "set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)")
    elif not st.webhook_secret.startswith("whsec_"):
        yield Problem(where, "stripe.webhook_secret does not look like a signing secret "
                      "(they start with whsec_)", "copy it from the Stripe webhook endpoint",
                      "warning")
    source = st.user_id_from
    src_where = cfg.where("stripe", "user_id_from")
    problem = user_id_from_problem(source)
    if problem:
        yield Problem(src_where, problem, USER_ID_FROM_FIX)
    elif source == CUSTOMER_COLUMN and not cfg.app.users.stripe_customer_id:
        yield Problem(src_where, f"user_id_from is {CUSTOMER_COLUMN} but app.users has no "
                      "stripe_customer_id column configured",
                      "add `stripe_customer_id: <column>` under app.users")
    if st.refetch and not st.api_key:
        yield Problem(cfg.where("stripe", "refetch"), "stripe.refetch re-reads objects from "
                      "Stripe's API, which needs stripe.api_key",
                      "set `api_key: ${STRIPE_API_KEY}` (a restricted key that can read "
                      "Customers and Subscriptions is enough), or remove refetch")
