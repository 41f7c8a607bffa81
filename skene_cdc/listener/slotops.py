"""Keeping a replication slot from hurting the database: size limits, the slot-lag guard, and the
"replication" section of `skene-cdc status`.

An inactive logical slot makes the server keep every WAL segment since its position, forever.
skene warns from half of `capture.max_slot_lag` on, and past it drops a slot nobody is reading
(recording the loss in skene.replication), so a dead or crash-looping listener cannot fill the
disk. The server-side guard that works even when no skene process runs is PostgreSQL's
`max_slot_wal_keep_size`; `skene-cdc check` recommends setting it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row

log = logging.getLogger("skene.logical")

def human(n: int | None) -> str:
    if n is None:
        return "-"
    x = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(x) < 1024:
            return f"{int(x)} B" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return f"{x:.1f} TB"


@dataclass(frozen=True)
class SlotState:
    slot_name: str
    active: bool
    active_pid: int | None
    wal_status: str | None
    confirmed_flush_lsn: str | None
    lag_bytes: int | None
    retained_bytes: int | None
    database: str | None = None
    plugin: str | None = None

    @classmethod
    def read(cls, conn: psycopg.Connection[Row], slot: str) -> SlotState | None:
        row = conn.execute(sql.load("logical/slot_state"), {"slot": slot}).fetchone()
        if row is None:
            return None
        return cls(row["slot_name"], row["active"], row["active_pid"], row["wal_status"],
                   row["confirmed_flush_lsn"], row["lag_bytes"], row["retained_bytes"],
                   row["database"], row["plugin"])


def level(lag: int | None, limit: int | None) -> str:
    if lag is None or limit is None:
        return "ok"
    if lag > limit:
        return "critical"
    if lag * 2 > limit:
        return "warning"
    return "ok"


def guard_inactive_slot(conn: psycopg.Connection[Row], slot: str, limit: int | None,
                        grace: float = 60.0) -> str | None:
    """Drop `slot` if no one reads it and it holds back more than `limit` bytes of WAL (or the
    server already invalidated it). Returns why, or None when the slot was left alone.

    A listener that wrote to skene.replication within `grace` seconds counts as alive (it is
    only reconnecting, say after a network blip in the middle of catching up): it keeps its
    slot, however far behind."""
    state = SlotState.read(conn, slot)
    if state is None or state.active:
        return None
    row = conn.execute(sql.load("logical/last_progress"), {"slot": slot}).fetchone()
    idle = row["idle_seconds"] if row else None
    reason: str | None = None
    if state.wal_status == "lost":
        reason = ("the server invalidated the slot (max_slot_wal_keep_size): changes after "
                  f"{state.confirmed_flush_lsn} were not captured")
    elif (limit is not None and state.lag_bytes is not None and state.lag_bytes > limit
          and (idle is None or idle > grace)):
        reason = (f"nobody read the slot while it held back {human(state.lag_bytes)} of WAL, more "
                  f"than capture.max_slot_lag ({human(limit)}); it was dropped to keep the disk "
                  f"from filling. Changes after {state.confirmed_flush_lsn} were not captured")
    if reason is None:
        return None
    with conn.transaction():
        conn.execute(sql.load("logical/drop_inactive_slot"), {"slot": slot})
        conn.execute(sql.load("logical/mark_lost"), {"slot": slot, "reason": reason})
    log.critical("replication slot %s: %s. Run `skene-cdc migrate` to create a new slot.",
                 slot, reason)
    return reason


def replication_section(conn: psycopg.Connection[Row]) -> Any:
    """`status`: per slot skene created, lag in bytes (server) and seconds (heartbeats)."""
    if conn.execute("SELECT to_regclass('skene.replication') IS NOT NULL AS ok").fetchone() \
            != {"ok": True}:
        return []
    return conn.execute(sql.load("logical/status")).fetchall()
