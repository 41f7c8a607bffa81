"""Who must not get growth email (skene.suppressions): users who unsubscribed, addresses that
bounced or complained (from the provider's webhooks) and addresses suppressed by hand
(`skene-cdc suppress`). The loops check it when they decide, the outbox when a delivery is
written, and the sender again in the transaction that claims a delivery for sending: an opt-out
that arrives in between wins. Matching is one SQL function, skene.email_suppressed()."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row

REASONS = ("unsubscribe", "bounce", "complaint", "provider", "manual")


@dataclass(frozen=True)
class Candidate:
    user_id: str
    address: str | None
    loop: str


def reasons(conn: psycopg.Connection[Row], items: Sequence[Candidate]) -> list[str | None]:
    """For each item, why it is suppressed (skene.suppression_reason), or None."""
    out: list[str | None] = [None] * len(items)
    if not items:
        return out
    rows = conn.execute(sql.load("email/suppressed"), {
        "users": [i.user_id for i in items], "addresses": [i.address for i in items],
        "loops": [i.loop for i in items]}).fetchall()
    for r in rows:
        out[int(r["ord"]) - 1] = str(r["why"])
    return out


def hold_enqueued(conn: psycopg.Connection[Row], ids: Sequence[int]) -> None:
    """Mark just-enqueued growth deliveries of suppressed users/addresses as 'suppressed'."""
    if ids:
        conn.execute(sql.load("email/suppress_new"), {"ids": list(ids)})


def add(conn: psycopg.Connection[Row], *, reason: str, source: str, user_id: str | None = None,
        address: str | None = None, scope: str = "all", detail: str | None = None,
        delivery_id: int | None = None) -> bool:
    """Record a suppression; False when an active one for the same subject and scope exists."""
    assert reason in REASONS and (user_id is None) != (address is None)
    row = conn.execute(sql.load("email/suppress_add"), {
        "user_id": user_id, "address": address, "scope": scope, "reason": reason,
        "source": source, "detail": (detail or None) and detail[:500],
        "delivery_id": delivery_id}).fetchone()
    return row is not None


def remove(conn: psycopg.Connection[Row], *, by: str, user_id: str | None = None,
           address: str | None = None, scope: str | None = None) -> list[Row]:
    """Lift the active suppressions of a user or an address (in `scope`, else every scope)."""
    return conn.execute(sql.load("email/suppress_remove"), {
        "user_id": user_id, "address": address, "scope": scope, "by": by}).fetchall()


def listing(conn: psycopg.Connection[Row], *, limit: int = 100,
            include_removed: bool = False) -> list[Row]:
    return conn.execute(sql.load("email/suppress_list"),
                        {"limit": limit, "all": include_removed}).fetchall()
