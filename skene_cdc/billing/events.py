"""What a verified Stripe event does: record it once in skene.events (source 'stripe', external_id
= the event id), update skene.user_plans (so skene.users.plan and the gate's plan cache follow),
and credit a free -> paid change to the freemium prompt that preceded it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
import redis
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.types import split_table
from skene_cdc.db import Row
from skene_cdc.freemium import plans
from skene_cdc.freemium.meter import redis_config

log = logging.getLogger("skene.stripe")

CUSTOMER_COLUMN = "app.users.stripe_customer_id"
PAID_STATUSES = {"active", "trialing", "past_due"}
HANDLED = {"customer.subscription.created", "customer.subscription.updated",
           "customer.subscription.deleted", "checkout.session.completed", "invoice.paid"}


@dataclass
class PlanChange:
    plan: str | None          # 'paid' | 'free' | None (the event changes no plan)
    status: str | None
    customer: str | None
    subscription: str | None
    anchor: int | None = None
    period_end: int | None = None


@dataclass
class Outcome:
    event_id: str
    type: str
    duplicate: bool = False
    user_id: str | None = None
    plan: str | None = None
    stale: bool = False
    converted: int | None = None  # the enrolment credited with the conversion

    def as_json(self) -> dict[str, Any]:
        return {"received": True, "id": self.event_id, "type": self.type,
                "duplicate": self.duplicate, "user_id": self.user_id, "plan": self.plan,
                "stale": self.stale, "converted_enrolment": self.converted}


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _id(value: Any) -> str | None:
    """Stripe fields are ids, or expanded objects with an id."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def _subscription_of_invoice(obj: dict[str, Any]) -> str | None:
    return _id(obj.get("subscription")) or _id(_get(obj, "parent.subscription_details.subscription"))


def plan_change(event: dict[str, Any]) -> PlanChange | None:
    obj = _get(event, "data.object") or {}
    kind = event.get("type")
    customer = _id(obj.get("customer"))
    if kind in ("customer.subscription.created", "customer.subscription.updated"):
        status = obj.get("status")
        items = _get(obj, "items.data") or []
        # A subscription whose every price is 0 is a free plan kept in Stripe.
        amounts = [_get(i, "price.unit_amount") for i in items if isinstance(i, dict)]
        free_price = bool(amounts) and all(a == 0 for a in amounts)
        paid = status in PAID_STATUSES and not free_price
        period_end = obj.get("current_period_end") or (
            _get(items[0], "current_period_end") if items and isinstance(items[0], dict) else None)
        return PlanChange("paid" if paid else "free", status, customer, _id(obj.get("id")),
                          obj.get("billing_cycle_anchor"), period_end)
    if kind == "customer.subscription.deleted":
        return PlanChange("free", obj.get("status") or "canceled", customer, _id(obj.get("id")),
                          obj.get("billing_cycle_anchor"))
    if kind == "checkout.session.completed":
        paid = (obj.get("mode") == "subscription" and obj.get("status", "complete") == "complete"
                and obj.get("payment_status") in ("paid", "no_payment_required"))
        return PlanChange("paid" if paid else None, "active" if paid else None, customer,
                          _id(obj.get("subscription")))
    if kind == "invoice.paid":
        subscription = _subscription_of_invoice(obj)
        paid = bool(subscription) and (obj.get("amount_paid") or 0) > 0
        return PlanChange("paid" if paid else None, "active" if paid else None, customer,
                          subscription)
    return None


class StripeProcessor:
    def __init__(self, config: Config, redis_client: redis.Redis | None = None) -> None:
        if config.stripe is None:
            raise ValueError("config has no stripe section")
        self.config = config
        self.stripe = config.stripe
        self.redis = redis_client
        self.prefix = redis_config(config).key_prefix
        self.loops = [lp.name for lp in config.loops if lp.type == "freemium"]

    def process(self, conn: psycopg.Connection[Row], event: dict[str, Any]) -> Outcome:
        """One transaction: record (or recognise a duplicate), apply, attribute."""
        out = Outcome(str(event.get("id")), str(event.get("type")))
        change = plan_change(event)
        with conn.transaction():
            user_id = self.user_id(conn, event, change)
            row = conn.execute(sql.load("billing/record_event"), {
                "user_id": user_id, "type": out.type, "created": event.get("created") or 0,
                "data": Jsonb(event), "event_id": out.event_id}).fetchone()
            if row is None:
                out.duplicate = True
                return out
            out.user_id = user_id
            if change is None:
                return out
            if user_id is None:
                log.warning("stripe: %s %s names no user we know (user_id_from: %s, customer "
                            "%s); recorded, plan unchanged", out.type, out.event_id,
                            self.stripe.user_id_from, change.customer)
                return out
            self.apply(conn, out, event, change, user_id)
        return out

    def apply(self, conn: psycopg.Connection[Row], out: Outcome, event: dict[str, Any],
              change: PlanChange, user_id: str) -> None:
        before = conn.execute(sql.load("billing/lock_plan"), {"user_id": user_id}).fetchone()
        old_plan = before["plan"] if before else "free"
        row = conn.execute(sql.load("billing/upsert_plan"), {
            "user_id": user_id, "plan": change.plan, "customer": change.customer,
            "subscription": change.subscription, "status": change.status,
            "anchor": change.anchor, "period_end": change.period_end,
            "event_id": out.event_id, "created": event.get("created") or 0}).fetchone()
        if row is None:
            out.stale = True  # a newer event already set this user's plan
            return
        out.plan = row["plan"]
        if old_plan != "paid" and row["plan"] == "paid" and self.loops:
            window = self.stripe.conversion_window
            hit = conn.execute(sql.load("billing/convert"), {
                "event_id": out.event_id, "loops": self.loops, "user_id": user_id,
                "window": window}).fetchone()
            out.converted = int(hit["id"]) if hit else None
        # Inside the row lock, so concurrent webhooks write the cache in commit order. Best
        # effort: the listener re-syncs the cache from skene.user_plans if this write is lost.
        if self.redis is not None:
            try:
                plans.write_plan(self.redis, self.prefix, user_id, row["plan"], row["status"],
                                 row["anchor"])
            except redis.RedisError as exc:
                log.warning("stripe: plan cache not updated for user %s (%s); the listener "
                            "will copy it from skene.user_plans", user_id, exc)

    # -- which user -------------------------------------------------------------------------

    def user_id(self, conn: psycopg.Connection[Row], event: dict[str, Any],
                change: PlanChange | None) -> str | None:
        obj = _get(event, "data.object") or {}
        source = self.stripe.user_id_from
        customer = change.customer if change else _id(obj.get("customer"))
        if source != CUSTOMER_COLUMN:
            # The path on the object itself, then where Stripe copies subscription metadata.
            for base in (obj, obj.get("subscription_details"),
                         _get(obj, "parent.subscription_details")):
                value = _get(base, source) if isinstance(base, dict) else None
                if value not in (None, ""):
                    return str(value)
            if event.get("type") == "checkout.session.completed" and obj.get("client_reference_id"):
                return str(obj["client_reference_id"])
        if not customer:
            return None
        row = conn.execute(sql.load("billing/user_by_customer"), {"customer": customer}).fetchone()
        if row:
            return str(row["user_id"])
        return self.user_by_column(conn, customer)

    def user_by_column(self, conn: psycopg.Connection[Row], customer: str) -> str | None:
        users = self.config.app.users
        if not users.stripe_customer_id:
            return None
        schema, table = split_table(users.table)
        name = pgsql.Identifier(schema, table) if schema else pgsql.Identifier(table)
        query = pgsql.SQL(sql.load("billing/user_by_customer_column")).format(
            id=pgsql.Identifier(users.id), table=name,
            column=pgsql.Identifier(users.stripe_customer_id))
        row = conn.execute(query, {"customer": customer}).fetchone()
        return str(row["user_id"]) if row else None

