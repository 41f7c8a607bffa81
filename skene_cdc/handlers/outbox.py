"""The deliveries outbox: loops (and the freemium gate) enqueue here, inside the transaction that
made the decision; the sender drains it. At most one delivery per (loop, user, step, episode)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config.loops import Recovery
from skene_cdc.db import Row


def idempotency_key(loop: str, user_id: str, step: int, episode: str) -> str:
    """Stable across retries, restarts and listeners: the provider dedupes on it."""
    raw = f"{loop}\x1f{user_id}\x1f{step}\x1f{episode}"
    return "skene-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def enqueue(conn: psycopg.Connection[Row], *, loop: str, user_id: str, step: int, episode: str,
            provider: str, template: str, to_address: str | None, context: dict[str, Any],
            recovery: Recovery, variant: str | None = None,
            not_before: datetime | None = None) -> int | None:
    """Insert a pending delivery; return its id, or None if this episode already has one."""
    row = conn.execute(sql.load("handlers/enqueue_delivery"), {
        "loop": loop, "user_id": user_id, "step": step, "episode": episode,
        "provider": provider, "template": template, "variant": variant,
        "to_address": to_address, "context": Jsonb(context),
        "max_attempts": recovery.retries + 1, "backoff": recovery.backoff,
        "base_delay": recovery.base_delay, "max_delay": recovery.max_delay,
        "idempotency_key": idempotency_key(loop, user_id, step, episode),
        "not_before": not_before,
    }).fetchone()
    return int(row["id"]) if row else None


def backoff_delay(backoff: str, attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """Delay before attempt number `attempt + 1` (attempt >= 1), before jitter."""
    if backoff == "fixed":
        delay = base
    elif backoff == "linear":
        delay = base * attempt
    else:
        delay = base * (2 ** (attempt - 1))
    return min(delay, cap)
