"""The deliveries outbox: loops (and the freemium gate) enqueue here, inside the transaction that
made the decision; the sender drains it. At most one delivery per (loop, user, step, episode)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config.loops import Recovery
from skene_cdc.db import Row
from skene_cdc.handlers.decision import StepRef
from skene_cdc.handlers.email import suppression
from skene_cdc.handlers.email.recipients import InvalidRecipient, recipient

log = logging.getLogger("skene.outbox")


def idempotency_key(loop: str, user_id: str, step: int, episode: str) -> str:
    """Stable across retries, restarts and listeners: the provider dedupes on it."""
    raw = f"{loop}\x1f{user_id}\x1f{step}\x1f{episode}"
    return "skene-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Outgoing:
    """One email a loop decided to send: who, which episode, what to render."""

    user_id: str
    episode: str
    template: str
    to_address: str | None
    context: dict[str, Any]
    variant: str | None = None


def enqueue_many(conn: psycopg.Connection[Row], *, step: StepRef, provider: str,
                 recovery: Recovery, items: Sequence[Outgoing],
                 not_before: datetime | None = None,
                 growth: bool = True) -> dict[tuple[str, str], int]:
    """Insert pending deliveries in one statement; return {(user_id, episode): id} for the ones
    that were new (an episode that already has a delivery is skipped). The step is a StepRef,
    never a bare number: every loop type numbers steps the same way (handlers/decision.py).
    Growth email to a user or address that opted out or bounced is written `suppressed` at once
    (transactional: not)."""
    if not items:
        return {}
    loop = step.loop
    # One user, one validated address: an invalid one becomes a dead delivery with the reason,
    # never sent, never retried (the sender checks again before sending).
    addresses: list[str | None] = []
    errors: list[str | None] = []
    for item in items:
        try:
            addresses.append(recipient(item.to_address) if item.to_address else None)
            errors.append(None)
        except InvalidRecipient as exc:
            addresses.append(item.to_address)
            errors.append(str(exc))
            log.error("%s: user %s: %s", loop, item.user_id, exc)
    rows = conn.execute(sql.load("handlers/enqueue_delivery"), {
        "loop": loop, "step": step.number, "provider": provider,
        "max_attempts": recovery.retries + 1, "backoff": recovery.backoff,
        "base_delay": recovery.base_delay, "max_delay": recovery.max_delay,
        "not_before": not_before,
        "user_ids": [i.user_id for i in items], "episodes": [i.episode for i in items],
        "templates": [i.template for i in items], "variants": [i.variant for i in items],
        "to_addresses": addresses, "errors": errors,
        "states": ["pending" if e is None else "dead" for e in errors],
        "contexts": [Jsonb(i.context) for i in items],
        "keys": [idempotency_key(loop, i.user_id, step.number, i.episode) for i in items],
    }).fetchall()
    new = {(r["user_id"], r["episode"]): int(r["id"]) for r in rows}
    if growth:
        suppression.hold_enqueued(conn, list(new.values()))
    return new


def enqueue(conn: psycopg.Connection[Row], *, step: StepRef, user_id: str, episode: str,
            provider: str, template: str, to_address: str | None, context: dict[str, Any],
            recovery: Recovery, variant: str | None = None,
            not_before: datetime | None = None) -> int | None:
    """Insert one pending delivery; return its id, or None if this episode already has one."""
    new = enqueue_many(conn, step=step, provider=provider, recovery=recovery,
                       not_before=not_before, items=[Outgoing(user_id, episode, template,
                                                              to_address, context, variant)])
    return new.get((user_id, episode))


def backoff_delay(backoff: str, attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """Delay before attempt number `attempt + 1` (attempt >= 1), before jitter."""
    if backoff == "fixed":
        delay = base
    elif backoff == "linear":
        delay = base * attempt
    else:
        delay = base * (2 ** (attempt - 1))
    return min(delay, cap)
