"""Redis Streams as a capture source, for apps whose activity lives in Redis:

    redis:
      url: ${REDIS_URL}
      streams:
        - {stream: events, user_id: user_id, event: type, timestamp: ts}

Each entry becomes one skene.events row (source 'redis', table_name 'redis:<stream>',
external_id '<stream>:<entry id>', data = all fields), so the activity rollup, skene.users and
the retention/activation loops see it like any captured row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.config.models import RedisStream
from skene_cdc.db import Row
from skene_cdc.streams.consumer import Entry, StreamConsumer


@dataclass(frozen=True, slots=True)
class EventRow:
    user_id: str | None
    event: str
    activity: bool
    occurred_at: datetime
    data: dict[str, Any]
    external_id: str


def insert_events(conn: psycopg.Connection[Row], source: str, table_name: str | None,
                  rows: Sequence[EventRow]) -> int:
    if not rows:
        return 0
    cur = conn.execute(sql.load("streams/insert_events"), {
        "source": source, "table_name": table_name,
        "user_ids": [r.user_id for r in rows], "events": [r.event for r in rows],
        "activity": [r.activity for r in rows], "occurred_at": [r.occurred_at for r in rows],
        "data": [Jsonb(r.data) for r in rows], "external_ids": [r.external_id for r in rows]})
    return cur.rowcount


def entry_time(entry_id: str) -> datetime:
    """The time Redis stamped into an entry id (`<ms>-<seq>`)."""
    return datetime.fromtimestamp(int(entry_id.split("-", 1)[0]) / 1000, UTC)


def parse_time(value: str | None) -> datetime | None:
    """Epoch seconds, milliseconds or microseconds, or ISO 8601 (naive = UTC); None if neither."""
    if not value:
        return None
    try:
        n = float(value)
    except ValueError:
        try:
            t = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    if not math.isfinite(n) or n < 0:
        return None
    while n > 1e11:  # ms or µs since the epoch
        n /= 1000
    try:
        return datetime.fromtimestamp(n, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class RedisSourceSink:
    def __init__(self, spec: RedisStream) -> None:
        self.spec = spec

    def rows(self, stream: str, entries: Sequence[Entry]) -> list[EventRow]:
        s = self.spec
        out = []
        for entry_id, fields in entries:
            # A timestamp that does not parse keeps the entry (nothing lost) at Redis's own time.
            at = parse_time(fields.get(s.timestamp)) if s.timestamp else None
            event = (fields.get(s.event) if s.event else None) or f"redis:{stream}"
            out.append(EventRow(user_id=fields.get(s.user_id) or None, event=event,
                                activity=s.activity, occurred_at=at or entry_time(entry_id),
                                data=dict(fields), external_id=f"{stream}:{entry_id}"))
        return out

    def write(self, conn: psycopg.Connection[Row], stream: str, entries: Sequence[Entry]) -> int:
        return insert_events(conn, "redis", f"redis:{stream}", self.rows(stream, entries))


def source_services(url: str, config: Config) -> list[StreamConsumer]:
    rc = config.redis
    if rc is None:
        return []
    return [StreamConsumer(name=f"redis:{spec.stream}", url=url, redis_url=rc.url,
                           stream=spec.stream, group=spec.group, sink=RedisSourceSink(spec),
                           consumer=rc.consumer, batch_size=rc.batch_size,
                           claim_after=rc.claim_after.total_seconds(), start=spec.start)
            for spec in rc.streams]
