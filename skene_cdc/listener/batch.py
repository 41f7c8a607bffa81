"""One batch of the consumer, in the caller's transaction: read the next rows of the window
between two ticks from the queue, turn them into events (into the history, and back as `Event`s
for the handlers), and say where the cursor goes next. consumer.py runs the handlers and commits;
poison.py decides what to do when a batch fails.

Reading by pairs of snapshots (PgQ's ticks) instead of "below the oldest running transaction"
means a transaction held open anywhere in the cluster delays only its own rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.handlers.base import Event
from skene_cdc.listener import sanitize
from skene_cdc.listener.history import History

log = logging.getLogger("skene.listener")

Key = tuple[int, int]  # (txid, seq): a queue row


@dataclass
class Window:
    """The cursor's state at the start of a batch."""

    tick: str
    next_tick: str
    pos: Key
    fresh: bool  # next_tick was taken by this batch

    @classmethod
    def open(cls, conn: psycopg.Connection[Row], cursor: str) -> Window | None:
        """The window to read from, taking a new tick when the last one is done; None when
        nothing can have happened since."""
        row = conn.execute(sql.load("listener/cursor_state"), {"cursor": cursor}).fetchone()
        if row is None:
            return None
        if row["next_tick"] is not None:
            return cls(row["tick"], row["next_tick"], (int(row["pos_txid"]), row["pos_seq"]),
                       False)
        tick = conn.execute(sql.load("listener/take_tick"), {"tick": row["tick"]}).fetchone()
        assert tick is not None
        if not tick["moved"]:
            return None
        return cls(row["tick"], tick["next_tick"], (0, 0), True)


@dataclass
class Batch:
    events: list[Event]
    last: Key | None  # the newest queue row read (or skipped)
    exhausted: bool  # the window has no more rows
    repaired: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)  # table -> mapped columns absent


def window_sql(data_cast: str, skip: bool) -> pgsql.Composed:
    return pgsql.SQL(sql.load("listener/window")).format(
        data_cast=pgsql.SQL(data_cast),
        skip=pgsql.SQL(sql.load("listener/skip") if skip else ""))


def read(conn: psycopg.Connection[Row], window: Window, history: History, limit: int,
         skip: frozenset[Key] = frozenset()) -> Batch:
    """Up to `limit` rows of the window as events, stored in the history where their day has a
    partition. `skip` leaves rows out (poison.py quarantines them)."""
    params: dict[str, Any] = {
        "tick": window.tick, "next_tick": window.next_tick, "pos_txid": str(window.pos[0]),
        "pos_seq": window.pos[1], "limit": limit, "skip": [f"{t}:{s}" for t, s in skip],
        "days": sorted(history.days)}
    consume = pgsql.SQL(sql.load("listener/consume"))
    repaired = 0
    conn.execute(sql.load("listener/plan_ordered"))
    try:
        with conn.transaction():
            rows = conn.execute(consume.format(
                source=window_sql("::jsonb", bool(skip)),
                event_time=pgsql.SQL(sql.load("listener/event_time_fast"))), params).fetchall()
    except psycopg.DataError:
        # A value jsonb refuses ('\u0000', a number past numeric's range) or an event time that
        # is no date: read the rows as text, repair them, and consume the repaired copies with
        # the field-by-field time check. Rare, so done row by row here.
        raw = conn.execute(window_sql("::text", bool(skip)), params).fetchall()
        source = _repaired(raw)
        repaired = sum(1 for n in source["notes"] if n is not None)
        rows = conn.execute(consume.format(
            source=pgsql.SQL(sql.load("listener/sanitize_source")),
            event_time=pgsql.SQL(sql.load("listener/event_time_safe"))),
            {**params, **source}).fetchall()
    conn.execute(sql.load("listener/plan_default"))
    rows = _store_late_days(conn, rows, history)
    batch = Batch([_event(r) for r in rows], None, len(rows) < limit, repaired)
    keys = [(r["txid"], r["qseq"]) for r in rows] + list(skip)
    batch.last = max(keys) if keys else None
    for r in rows:
        for column in r["missing"] or ():
            cols = batch.missing.setdefault(r["table_name"], [])
            if column not in cols:
                cols.append(column)
    return batch


def _repaired(raw: list[Row]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {k: [] for k in
                                  ("txids", "seqs", "tbls", "ops", "ats", "metas", "ds", "notes")}
    for r in raw:
        value, notes = sanitize.repair(r["d"])
        cols["txids"].append(str(r["txid"]))
        cols["seqs"].append(r["seq"])
        cols["tbls"].append(r["tbl"])
        cols["ops"].append(r["op"])
        cols["ats"].append(r["at"])
        cols["metas"].append(Jsonb(r["meta"]) if r["meta"] is not None else None)
        cols["ds"].append(sanitize.dumps(value))
        cols["notes"].append(Jsonb(notes) if notes else None)
    return cols


def _store_late_days(conn: psycopg.Connection[Row], rows: list[Row],
                     history: History) -> list[Row]:
    """Events of a day with no partition yet (history is made a few days ahead; backfill or an
    odd event time can reach further): make the partition and store them now."""
    days: set[date] = {r["occurred_at"].astimezone(UTC).date() for r in rows if not r["stored"]}
    if not days:
        return rows
    made = set(history.ensure(conn, days))
    late = [r for r in rows
            if not r["stored"] and r["occurred_at"].astimezone(UTC).date() in made]
    if late:
        conn.execute(sql.load("listener/store_late"), {
            k: [r[c] for r in late] for k, c in (
                ("ids", "id"), ("txids", "txid_text"), ("occurred", "occurred_at"),
                ("sources", "source"), ("tables", "table_name"), ("ops", "op"),
                ("users", "user_id"), ("events", "event"), ("activity", "activity"),
                ("lsns", "lsn"), ("seqs", "lseq"), ("externals", "external_id"))} | {
            "data": [r["data_text"] for r in late],
            "old": [Jsonb(r["old_data"]) if r["old_data"] is not None else None for r in late],
            "notes": [Jsonb(r["notes"]) if r["notes"] is not None else None for r in late]})
    return rows


def _event(r: Row) -> Event:
    return Event(id=r["id"], txid=r["txid"], occurred_at=r["occurred_at"],
                 captured_at=r["captured_at"], source=r["source"], table_name=r["table_name"],
                 op=r["op"], user_id=r["user_id"], event=r["event"], activity=r["activity"],
                 data_text=r["data_text"], external_id=r["external_id"])
