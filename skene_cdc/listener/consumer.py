"""Trigger-mode capture consumer: batches of skene.events, in commit-safe order, to the handlers.

Each batch runs in one transaction: read after the cursor, run every handler, advance the cursor,
commit. A crash anywhere rolls the whole batch back, so it is processed again, never skipped.
NOTIFY is only a wake-up: the listener polls fast while events are flowing, and only when idle
does it set `sleeping_until`, which is when capture triggers bother to NOTIFY.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row, connect
from skene_cdc.handlers.base import Event, Handler
from skene_cdc.listener.service import run_with_reconnect

log = logging.getLogger("skene.listener")

CHANNEL = "skene_events"
BUSY_POLL = 0.02  # seconds between polls while events flowed in the last second
BUSY_WINDOW = 1.0


class EventConsumer:
    name = "events"

    def __init__(self, url: str, handlers: Sequence[Handler], *, cursor: str = "main",
                 batch_size: int = 1000, poll_interval: float = 1.0,
                 listener_id: str | None = None) -> None:
        self.url = url
        self.handlers = list(handlers)
        self.cursor = cursor
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.listener_id = listener_id or f"{socket.gethostname()}:{os.getpid()}"
        self.processed = 0

    # -- one batch ---------------------------------------------------------------------------

    def process_batch(self, conn: psycopg.Connection[Row]) -> int:
        """Process up to batch_size events; return how many. 0 also when another listener holds
        the cursor."""
        params = {"cursor": self.cursor}
        try:
            with conn.transaction():
                lock = conn.execute(sql.load("listener/lock_cursor"), params).fetchone()
                if not lock or not lock["locked"]:
                    return 0
                rows = conn.execute(sql.load("listener/fetch_events"),
                                    {**params, "limit": self.batch_size}).fetchall()
                if not rows:
                    return 0
                events = [Event.from_row(r) for r in rows]
                for handler in self.handlers:
                    handler.handle(conn, events)
                last = events[-1]
                conn.execute(sql.load("listener/advance_cursor"),
                             {**params, "txid": last.txid, "event_id": last.id, "n": len(events)})
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                raise
            # A handler's SQL failed: the batch rolled back and will be retried; say why.
            self._record_error(conn, f"{type(exc).__name__}: {exc}".strip())
            raise
        self.processed += len(events)
        return len(events)

    def _record_error(self, conn: psycopg.Connection[Row], error: str) -> None:
        log.error("events: batch failed and will be retried: %s", error)
        try:
            with conn.transaction():
                conn.execute(sql.load("listener/record_error"),
                             {"cursor": self.cursor, "error": error[:2000]})
        except psycopg.Error:
            log.exception("events: could not record the error")

    def _prepare(self, conn: psycopg.Connection[Row]) -> None:
        with conn.transaction():
            conn.execute(sql.load("listener/ensure_cursor"), {"cursor": self.cursor})

    # -- Service -----------------------------------------------------------------------------

    def drain(self) -> int:
        total = 0
        with connect(self.url) as conn:
            self._prepare(conn)
            while n := self.process_batch(conn):
                total += n
        return total

    def run(self, stop: threading.Event) -> None:
        run_with_reconnect(self.name, lambda: self._run(stop), stop)

    def _run(self, stop: threading.Event) -> None:
        with connect(self.url) as conn, connect(self.url, autocommit=True) as wake:
            self._prepare(conn)
            wake.execute(f"LISTEN {CHANNEL}")
            conn.execute(sql.load("listener/register"),
                         {"listener": self.listener_id, "pid": os.getpid(),
                          "host": socket.gethostname()})
            conn.commit()
            last_work = time.monotonic()
            last_beat = 0.0
            failures = 0
            try:
                while not stop.is_set():
                    try:
                        n = self.process_batch(conn)
                        failures = 0
                    except psycopg.Error:
                        if conn.closed or conn.broken:
                            raise
                        failures += 1
                        stop.wait(min(0.5 * 2 ** failures, 30))
                        continue
                    now = time.monotonic()
                    if n:
                        last_work = now
                        if n == self.batch_size:
                            continue
                    if now - last_beat > 5:
                        self._heartbeat(conn, None)
                        last_beat = now
                    if now - last_work < BUSY_WINDOW:
                        self._wait(wake, stop, BUSY_POLL)
                        continue
                    # Idle: ask triggers for a NOTIFY, look once more (closes the race with a
                    # commit that missed the flag), then sleep until woken or the poll interval.
                    until = datetime.now(UTC) + timedelta(seconds=self.poll_interval + 1)
                    self._heartbeat(conn, until)
                    if self.process_batch(conn):
                        last_work = time.monotonic()
                    elif self._wait(wake, stop, self.poll_interval):
                        last_work = time.monotonic()
                    self._heartbeat(conn, None)
                    last_beat = time.monotonic()
            finally:
                if not conn.closed:
                    try:
                        conn.rollback()
                        conn.execute(sql.load("listener/unregister"),
                                     {"listener": self.listener_id})
                        conn.commit()
                    except psycopg.Error:
                        pass

    def _wait(self, wake: psycopg.Connection[Row], stop: threading.Event, timeout: float) -> bool:
        """Sleep up to `timeout`, waking early on NOTIFY or stop; True if a NOTIFY came."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for _ in wake.notifies(timeout=min(left, 0.25), stop_after=1):
                return True
        return False

    def _heartbeat(self, conn: psycopg.Connection[Row], sleeping_until: datetime | None) -> None:
        with conn.transaction():
            conn.execute(sql.load("listener/heartbeat"),
                         {"listener": self.listener_id, "sleeping_until": sleeping_until})
