"""What a verified Stripe event does, in one transaction: keep it once (skene.stripe_events),
store the subscription states and customer links it carries, then derive the plan of every
user whose subscriptions it touched from all of their subscriptions, into skene.user_plans (so
skene.users.plan and the gate's plan cache follow), crediting a free -> paid change to the
freemium prompt that preceded it.

Deriving instead of applying "the last event's verdict" is what makes the delivery order not
matter: each subscription keeps its newest state by an ordering key, and the plan is a function
of the set of states (docs/freemium.md, "Stripe")."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
import redis

from skene_cdc import sql
from skene_cdc.billing import store
from skene_cdc.billing.objects import EventReader, Facts, Fetched, Link
from skene_cdc.billing.users import CUSTOMER_COLUMN, UserDirectory
from skene_cdc.config import Config
from skene_cdc.db import Row
from skene_cdc.freemium import plans
from skene_cdc.freemium.meter import redis_config

__all__ = ["CUSTOMER_COLUMN", "Outcome", "StripeProcessor"]

log = logging.getLogger("skene.stripe")


@dataclass
class Outcome:
    event_id: str
    type: str
    duplicate: bool = False
    user_id: str | None = None
    plan: str | None = None
    stale: bool = False       # the event's subscription state was older than the stored one
    converted: int | None = None  # the enrolment credited with the conversion
    unknown_user: str | None = None  # the event names this user, who does not exist

    def as_json(self) -> dict[str, Any]:
        return {"received": True, "id": self.event_id, "type": self.type,
                "duplicate": self.duplicate, "user_id": self.user_id, "plan": self.plan,
                "stale": self.stale, "converted_enrolment": self.converted,
                "unknown_user": self.unknown_user}


class StripeProcessor:
    def __init__(self, config: Config, redis_client: redis.Redis | None = None) -> None:
        if config.stripe is None:
            raise ValueError("config has no stripe section")
        self.stripe = config.stripe
        self.users = UserDirectory(config)
        column_only = self.stripe.user_id_from == CUSTOMER_COLUMN
        self.reader = EventReader(None if column_only else self.stripe.user_id_from)
        self.redis = redis_client
        self.prefix = redis_config(config).key_prefix
        self.loops = [lp.name for lp in config.loops if lp.type == "freemium"]

    def process(self, conn: psycopg.Connection[Row], event: dict[str, Any],
                fetched: Fetched | None = None) -> Outcome:
        # Read first: a malformed object raises MalformedEvent before anything is written.
        facts = self.reader.read(event, fetched)
        out = Outcome(event["id"], event["type"])
        with conn.transaction():
            store.lock(conn)
            if not store.record_stripe_event(conn, event):
                out.duplicate = True
                return out
            before = store.owners(conn, facts.subscriptions, facts.customers)
            for state in facts.states:
                if not store.store_state(conn, state, out.event_id):
                    out.stale = True
            for link in facts.links + self.column_links(conn, facts):
                store.link_customer(conn, link, event["created"], out.event_id)
            after = store.owners(conn, facts.subscriptions, facts.customers)
            primary = _primary(after, facts)
            # Everyone who owned or owns what the event touched: a link that moved a customer
            # changes two users' plans.
            for ref in sorted({r["user_ref"] for r in before + after if r["user_ref"]}):
                self.settle(conn, out, event, ref, primary=ref == primary)
            store.set_event_user(conn, out.event_id, out.user_id)
            store.record_activity(conn, event, out.user_id)
        return out

    def column_links(self, conn: psycopg.Connection[Row], facts: Facts) -> list[Link]:
        links = []
        for customer in facts.customers:
            owner = self.users.customer_owner(conn, customer)
            if owner is not None:
                links.append(Link(customer, owner, "users_column"))
        return links

    def settle(self, conn: psycopg.Connection[Row], out: Outcome, event: dict[str, Any],
               ref: str, *, primary: bool) -> None:
        """Derive and store the plan of the user `ref` names, or record that it names none."""
        user_id, reason = self.users.resolve(conn, ref)
        if user_id is None:
            store.record_unknown(conn, ref, reason, out.event_id)
            log.warning("stripe: %s (%s) names user %r, but %s: recorded in "
                        "skene.stripe_unknown_users, no plan given", out.event_id, out.type, ref,
                        reason)
            if primary:
                out.unknown_user = ref
            return
        store.forget_unknown(conn, ref)
        before = store.lock_plan(conn, user_id)
        derived = store.derive(conn, user_id)
        if derived is None:
            if before is None or before["stripe_event_id"] is None:
                # No subscription, and no plan Stripe set (none, or one the app set by hand).
                if primary:
                    out.user_id, out.plan = user_id, before["plan"] if before else "free"
                return
            derived = {"plan": "free", "customer": store.user_customer(conn, user_id)}
        row = store.write_plan(conn, user_id, derived, event)
        converted = None
        if (before["plan"] if before else "free") != "paid" and row["plan"] == "paid":
            converted = self.convert(conn, out.event_id, user_id)
        self.cache(user_id, row)
        if primary:
            out.user_id, out.plan, out.converted = user_id, row["plan"], converted

    def convert(self, conn: psycopg.Connection[Row], event_id: str, user_id: str) -> int | None:
        if not self.loops:
            return None
        hit = conn.execute(sql.load("billing/convert"), {
            "event_id": event_id, "loops": self.loops, "user_id": user_id,
            "window": self.stripe.conversion_window}).fetchone()
        return int(hit["id"]) if hit else None

    def cache(self, user_id: str, row: Row) -> None:
        # Inside the billing lock, so concurrent webhooks write the cache in commit order. Best
        # effort: the listener re-syncs the cache from skene.user_plans if this write is lost.
        if self.redis is None:
            return
        try:
            plans.write_plan(self.redis, self.prefix, user_id, row["plan"], row["status"],
                             row["anchor"])
        except redis.RedisError as exc:
            log.warning("stripe: plan cache not updated for user %s (%s); the listener "
                        "will copy it from skene.user_plans", user_id, exc)


def _primary(owners: list[Row], facts: Facts) -> str | None:
    """The user the event is about: its subscription's owner, else its customer's."""
    owner: dict[tuple[str, str], str | None] = {(r["kind"], r["id"]): r["user_ref"]
                                                for r in owners}
    keys = [("subscription", s) for s in facts.subscriptions] + [
        ("customer", c) for c in facts.customers]
    return next((ref for key in keys if (ref := owner.get(key))), None)
