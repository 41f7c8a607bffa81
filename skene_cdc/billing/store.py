"""The statements the webhook runs against skene's billing tables, one function each."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.billing.objects import Link, SubscriptionState
from skene_cdc.db import Row

LINK_RANK = {"users_column": 2}   # the app's own column over what events say (rank 1)


def lock(conn: psycopg.Connection[Row]) -> None:
    conn.execute(sql.load("billing/lock"))


def record_stripe_event(conn: psycopg.Connection[Row], event: dict[str, Any]) -> bool:
    """Keep the event once; False when its id was seen before (a redelivery)."""
    row = conn.execute(sql.load("billing/record_stripe_event"), {
        "event_id": event["id"], "type": event["type"], "created": event["created"],
        "data": Jsonb(event)}).fetchone()
    return row is not None


def set_event_user(conn: psycopg.Connection[Row], event_id: str, user_id: str | None) -> None:
    if user_id is not None:
        conn.execute(sql.load("billing/event_user"), {"event_id": event_id, "user_id": user_id})


def record_activity(conn: psycopg.Connection[Row], event: dict[str, Any],
                    user_id: str | None) -> None:
    """The event as a row of skene.events (source 'stripe'), for activity queries and `events`.
    The only place billing writes skene.events; deduplication is skene.stripe_events' job."""
    conn.execute(sql.load("billing/record_event"), {
        "user_id": user_id, "type": event["type"], "created": event["created"],
        "data": Jsonb(event), "event_id": event["id"]})


def store_state(conn: psycopg.Connection[Row], state: SubscriptionState, event_id: str) -> bool:
    """False when the stored state of that subscription is newer (this one is stale)."""
    row = conn.execute(sql.load("billing/upsert_subscription"), {
        "id": state.id, "customer": state.customer, "user_ref": state.user_ref,
        "status": state.status, "priced": state.priced, "anchor": state.anchor,
        "period_end": state.period_end, "source": state.source, "final": state.final,
        "seen_object": state.seen_object, "at": state.at, "rank": state.rank,
        "event_id": event_id,
        "object": Jsonb(state.object) if state.object is not None else None}).fetchone()
    return row is not None


def link_customer(conn: psycopg.Connection[Row], link: Link, at: int, event_id: str) -> None:
    conn.execute(sql.load("billing/link_customer"), {
        "customer": link.customer, "user_ref": link.user_ref, "source": link.source,
        "rank": LINK_RANK.get(link.source, 1), "at": at, "event_id": event_id})


def owners(conn: psycopg.Connection[Row], subscriptions: list[str],
           customers: list[str]) -> list[Row]:
    """(kind, id, user_ref) for the subscriptions and customers an event touched."""
    if not subscriptions and not customers:
        return []
    return conn.execute(sql.load("billing/owners"), {
        "subscriptions": subscriptions, "customers": customers}).fetchall()


def derive(conn: psycopg.Connection[Row], user_id: str) -> Row | None:
    return conn.execute(sql.load("billing/derive_plan"), {"user_id": user_id}).fetchone()


def user_customer(conn: psycopg.Connection[Row], user_id: str) -> str | None:
    row = conn.execute(sql.load("billing/user_customer"), {"user_id": user_id}).fetchone()
    return str(row["customer"]) if row else None


def lock_plan(conn: psycopg.Connection[Row], user_id: str) -> Row | None:
    return conn.execute(sql.load("billing/lock_plan"), {"user_id": user_id}).fetchone()


def write_plan(conn: psycopg.Connection[Row], user_id: str, derived: Row,
               event: dict[str, Any]) -> Row:
    row = conn.execute(sql.load("billing/upsert_plan"), {
        "user_id": user_id, "event_id": event["id"], "created": event["created"],
        **{k: derived.get(k) for k in ("plan", "customer", "subscription", "status", "anchor",
                                       "period_end")}}).fetchone()
    assert row is not None  # an upsert always returns its row
    return row


def record_unknown(conn: psycopg.Connection[Row], ref: str, reason: str, event_id: str) -> None:
    conn.execute(sql.load("billing/unknown_user"),
                 {"user_ref": ref, "reason": reason, "event_id": event_id})


def forget_unknown(conn: psycopg.Connection[Row], ref: str) -> None:
    conn.execute(sql.load("billing/known_user"), {"user_ref": ref})
