"""The plan cache the meter reads: a Redis hash per user (`plan`, `anchor`, `status`), written
when Stripe changes a plan and kept in step with skene.user_plans, the source of truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.freemium.meter import plan_key

# A user with no row in skene.user_plans is free; remember that for an hour, so a blocked user
# costs PostgreSQL one query an hour, and a later Stripe webhook overwrites it at once.
UNKNOWN_FREE_TTL = 3600
SYNC_MARGIN = timedelta(minutes=1)


def cache_fields(plan: str, status: str | None, anchor: int | None) -> dict[str, str | int]:
    fields: dict[str, str | int] = {"plan": plan, "status": status or ""}
    if anchor is not None:
        fields["anchor"] = int(anchor)
    return fields


def write_plan(r: redis.Redis | Any, prefix: str, user_id: str, plan: str,
               status: str | None, anchor: int | None, *, ttl: int | None = None) -> None:
    """One pipelined round trip; `r` may be a Redis client or an open pipeline."""
    key = plan_key(prefix, user_id)
    pipe: Any = r.pipeline(transaction=True) if isinstance(r, redis.Redis) else r
    pipe.delete(key)
    pipe.hset(key, mapping=cache_fields(plan, status, anchor))
    if ttl:
        pipe.expire(key, ttl)
    if pipe is not r:
        pipe.execute()


def load_plan(conn: psycopg.Connection[Row], user_id: str) -> Row | None:
    return conn.execute(sql.load("freemium/user_plan"), {"user_id": user_id}).fetchone()


def fill_from_database(database_url: str, r: redis.Redis, prefix: str, user_id: str) -> str:
    """Cache the user's plan from skene.user_plans (free, for an hour, when there is none)."""
    with psycopg.connect(database_url, autocommit=True, row_factory=psycopg.rows.dict_row,
                         connect_timeout=5, application_name="skene-gate") as conn:
        row = load_plan(conn, user_id)
    if row is None:
        write_plan(r, prefix, user_id, "free", None, None, ttl=UNKNOWN_FREE_TTL)
        return "free"
    write_plan(r, prefix, user_id, row["plan"], row["status"], row["anchor"])
    return str(row["plan"])


def sync_plans(conn: psycopg.Connection[Row], r: redis.Redis, prefix: str,
               since: datetime, *, batch: int = 1000) -> tuple[int, datetime]:
    """Copy plans changed after `since` into Redis; return how many and the new high-water mark.
    Repairs the cache after a Redis restart lost it (the listener runs this). The mark is kept a
    minute behind, because updated_at is a transaction's start and commits land out of order;
    re-writing the last minute's plans is cheap and idempotent."""
    total, after, newest = 0, "", since
    while True:
        rows: list[Row] = conn.execute(sql.load("freemium/plans_since"),
                                       {"since": since, "after": after, "limit": batch}).fetchall()
        if not rows:
            break
        pipe = r.pipeline(transaction=False)
        for row in rows:
            write_plan(pipe, prefix, row["user_id"], row["plan"], row["status"], row["anchor"])
        pipe.execute()
        total += len(rows)
        since, after = rows[-1]["updated_at"], rows[-1]["user_id"]
        newest = max(newest, since)
        if len(rows) < batch:
            break
    return total, min(newest, datetime.now(UTC) - SYNC_MARGIN) if total else newest
