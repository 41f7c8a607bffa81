"""The per-user activity rollup behind `skene.users`: first/last activity and daily counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC

import psycopg
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.handlers.base import Event


class ActivityRollup:
    """Keeps skene.user_activity and skene.activity_daily in step with activity events.

    first/last use least/greatest, so they are idempotent. Daily counts are increments: they are
    exact because they commit in the same transaction as the listener's cursor advance, so a batch
    is applied once or not at all (tests kill the listener mid-burst and compare counts exactly).
    Recounting from skene.events instead would hide double-processing and costs O(events/day).
    """

    name = "activity_rollup"

    def handle(self, conn: psycopg.Connection[Row], events: Sequence[Event]) -> None:
        latest: dict[str, Event] = {}
        first: dict[str, Event] = {}
        daily: Counter[tuple[str, str, str]] = Counter()
        for e in events:
            if not e.activity or e.user_id is None:
                continue
            if e.user_id not in latest or e.occurred_at >= latest[e.user_id].occurred_at:
                latest[e.user_id] = e
            if e.user_id not in first or e.occurred_at < first[e.user_id].occurred_at:
                first[e.user_id] = e
            day = e.occurred_at.astimezone(UTC).date().isoformat()
            daily[(e.user_id, day, e.event or "")] += 1
        if not latest:
            return
        users = sorted(latest)
        conn.execute(sql.load("handlers/rollup_user_activity"), {
            "user_ids": users,
            "first_seen": [first[u].occurred_at for u in users],
            "last_seen": [latest[u].occurred_at for u in users],
            "last_event": [latest[u].event for u in users],
            "last_data": [Jsonb(latest[u].data) for u in users],
        })
        keys = sorted(daily)
        conn.execute(sql.load("handlers/rollup_activity_daily"), {
            "user_ids": [k[0] for k in keys], "days": [k[1] for k in keys],
            "events": [k[2] for k in keys], "counts": [daily[k] for k in keys]})
