"""The event consumer: batches from the capture queue, in commit order, to the handlers.

Each batch is one transaction: read the next rows between two ticks (batch.py), store them in
the history, run every handler, move the cursor, commit. A crash anywhere rolls the whole batch
back, so it is processed again, never skipped and never half-applied. A batch that fails is
narrowed down to the row that fails it (poison.py). Between batches the consumer rotates the
queue's tables it has consumed in full (rotation.py) and keeps the history's partitions
(history.py).

NOTIFY is only a wake-up: while events flow the consumer polls every 20 ms; only when idle does
it set the `skene.wake` sequence, which is when capture triggers bother to NOTIFY.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row, connect
from skene_cdc.errors import first_line
from skene_cdc.handlers.base import Handler
from skene_cdc.listener import poison
from skene_cdc.listener.batch import Window, read, window_sql
from skene_cdc.listener.history import History
from skene_cdc.listener.rotation import QueueDrain
from skene_cdc.service import run_with_reconnect

if TYPE_CHECKING:  # migrations (which imports listener) owns it; runtime/ passes it in
    from skene_cdc.migrations.users_watch import UsersWatch

log = logging.getLogger("skene.listener")

CHANNEL = "skene_events"
BUSY_POLL = 0.02  # seconds from one poll to the next while events flowed in the last second
BUSY_WINDOW = 1.0
HISTORY_EVERY = 3600.0  # seconds between retention passes
REPEAT_LOG_EVERY = 300.0  # the same error is logged again at most this often


class EventConsumer:
    name = "events"

    def __init__(self, url: str, handlers: Sequence[Handler], *, cursor: str = "main",
                 batch_size: int = 1000, poll_interval: float = 1.0,
                 listener_id: str | None = None,
                 retention: timedelta | None = timedelta(days=30),
                 watch: UsersWatch | None = None) -> None:
        self.url = url
        self.watch = watch  # notices the app changing its users table (migrations/users_watch.py)
        self.handlers = list(handlers)
        self.cursor = cursor
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.listener_id = listener_id or f"{socket.gethostname()}:{os.getpid()}"
        self.processed = 0
        self.history = History(retention)
        self.drain_queue = QueueDrain(cursor)
        self.history_at = 0.0
        self._logged: dict[str, float] = {}
        self._error: BaseException | None = None

    # -- one batch ---------------------------------------------------------------------------

    def process_batch(self, conn: psycopg.Connection[Row], limit: int | None = None,
                      skip: int = 0) -> int:
        """Process up to `limit` (batch_size) rows after quarantining the first `skip`; return
        how many. 0 also when another listener holds the cursor or nothing happened."""
        params = {"cursor": self.cursor}
        with conn.transaction():
            lock = conn.execute(sql.load("listener/lock_cursor"), params).fetchone()
            if not lock or not lock["locked"]:
                return 0
            n, again = self._window_batch(conn, limit or self.batch_size, skip)
            if again:
                # The window in progress ended exactly at the last batch: its tick is done now,
                # so look at a fresh one at once rather than report "nothing" while rows wait.
                n, _ = self._window_batch(conn, limit or self.batch_size, 0)
        self.processed += n
        self._error = None
        return n

    def _window_batch(self, conn: psycopg.Connection[Row], limit: int,
                      skip: int) -> tuple[int, bool]:
        """One batch of the current window: (rows processed, whether an older window just ended
        empty so a fresh one should be read now)."""
        window = Window.open(conn, self.cursor)
        if window is None:
            return 0, False
        skipped = self._quarantine(conn, window, skip) if skip else frozenset()
        batch = read(conn, window, self.history, limit, skipped)
        if skip and not batch.events:
            raise poison.Unconfirmed()
        for table, columns in batch.missing.items():
            self._once(f"missing:{table}:{columns}", logging.WARNING,
                       "events: rows of %s no longer have the column(s) %s that skene.yaml maps "
                       "(renamed or dropped by the app?): fix skene.yaml and run `skene-cdc "
                       "migrate`; other tables are captured as usual", table, ", ".join(columns))
        if batch.events:
            for handler in self.handlers:
                handler.handle(conn, batch.events)
        if batch.repaired:
            self._once("repaired", logging.WARNING, "events: %d row(s) held values jsonb cannot "
                       "store; stored repaired, see skene.events.notes", batch.repaired)
        last = batch.last or window.pos
        conn.execute(sql.load("listener/advance"), {
            "cursor": self.cursor, "done": batch.exhausted, "next_tick": window.next_tick,
            "pos_txid": str(last[0]), "pos_seq": last[1], "n": len(batch.events),
            "repaired": batch.repaired, "quarantined": len(skipped)})
        return len(batch.events), not batch.events and not window.fresh and not skipped

    def _quarantine(self, conn: psycopg.Connection[Row], window: Window,
                    skip: int) -> frozenset[tuple[int, int]]:
        keys = read_keys(conn, window, skip)
        error = (f"{type(self._error).__name__}: {first_line(self._error)}" if self._error
                 else "failed alone")
        for txid, seq in keys:
            conn.execute(sql.load("listener/quarantine"), {"cursor": self.cursor,
                                                           "txid": str(txid), "seq": seq,
                                                           "error": error[:2000]})
            log.error("events: change %d:%d quarantined (it fails alone, the rest go on): %s; "
                      "see skene.quarantine, `skene-cdc quarantine replay` after a fix",
                      txid, seq, error)
        return frozenset(keys)

    def step(self, conn: psycopg.Connection[Row]) -> int:
        """One batch; a failure narrows down to the row that causes it (poison.py)."""
        if self.watch is not None:
            self.watch.poll(conn)
        try:
            return self.process_batch(conn)
        except Exception as exc:
            if conn.closed or conn.broken:
                raise
            self._error = exc
            try:
                return poison.isolate(self._attempt(conn), self.batch_size, exc)
            except Exception as final:
                if conn.closed or conn.broken:
                    raise
                self._record_error(conn, final)
                raise

    def _attempt(self, conn: psycopg.Connection[Row]) -> poison.Attempt:
        def attempt(limit: int, skip: int) -> int:
            try:
                return self.process_batch(conn, limit, skip)
            except Exception as exc:
                if not isinstance(exc, poison.Unconfirmed):
                    self._error = exc
                raise
        return attempt

    def _record_error(self, conn: psycopg.Connection[Row], exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {first_line(exc)}"
        self._once(error, logging.ERROR, "events: batch failed and will be retried: %s", error)
        try:
            with conn.transaction():
                conn.execute(sql.load("listener/record_error"),
                             {"cursor": self.cursor, "error": error[:2000]})
        except psycopg.Error:
            log.exception("events: could not record the error")

    def _once(self, key: str, level: int, msg: str, *args: object) -> None:
        """Log a message the first time, then at most every REPEAT_LOG_EVERY seconds."""
        now = time.monotonic()
        if now - self._logged.get(key, -REPEAT_LOG_EVERY) >= REPEAT_LOG_EVERY:
            self._logged[key] = now
            log.log(level, msg, *args)

    # -- between batches ----------------------------------------------------------------------

    def maintain(self, conn: psycopg.Connection[Row], force: bool = False) -> None:
        """Truncate the queue table consumed in full; keep the history's partitions (hourly)."""
        params = {"cursor": self.cursor}
        if force or self.drain_queue.due():
            with conn.transaction():
                lock = conn.execute(sql.load("listener/lock_cursor"), params).fetchone()
                if lock and lock["locked"]:
                    for line in self.drain_queue.step(conn):
                        log.debug("%s", line)
        if force or time.monotonic() - self.history_at >= HISTORY_EVERY:
            with conn.transaction():
                for line in self.history.maintain(conn):
                    log.info("%s", line)
            self.history_at = time.monotonic()

    def _prepare(self, conn: psycopg.Connection[Row]) -> None:
        with conn.transaction():
            conn.execute(sql.load("listener/ensure_cursor"), {"cursor": self.cursor})
        self.maintain(conn, force=True)

    # -- Service -----------------------------------------------------------------------------

    def drain(self) -> int:
        total = 0
        with connect(self.url) as conn:
            self._prepare(conn)
            while n := self.step(conn):
                total += n
            self.maintain(conn)
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
                    started = time.monotonic()
                    try:
                        n = self.step(conn)
                        failures = 0
                    except Exception:
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
                    self.maintain(conn)
                    if now - last_beat > 5:
                        self._heartbeat(conn, None)
                        last_beat = now
                    if now - last_work < BUSY_WINDOW:
                        # A poll every BUSY_POLL from start to start, not a BUSY_POLL gap after
                        # each batch: an event that just missed a batch waits for the next
                        # poll, not for the batch's own time on top.
                        self._wait(wake, stop, BUSY_POLL - (time.monotonic() - started))
                        continue
                    # Idle: ask triggers for a NOTIFY, look once more (closes the race with a
                    # commit that missed the flag), then sleep until woken or the poll interval.
                    until = datetime.now(UTC) + timedelta(seconds=self.poll_interval + 1)
                    self._heartbeat(conn, until)
                    if self.step(conn):
                        last_work = time.monotonic()
                    elif self._wait(wake, stop, self.poll_interval):
                        last_work = time.monotonic()
                    self._heartbeat(conn, None)
                    last_beat = time.monotonic()
            finally:
                if not conn.closed:
                    try:
                        conn.rollback()
                        self._heartbeat(conn, None)
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
            # Non-transactional: triggers see it at once, and NOTIFY only while it is ahead.
            conn.execute(sql.load("listener/wake"),
                         {"until": int(sleeping_until.timestamp()) if sleeping_until else 0})


def read_keys(conn: psycopg.Connection[Row], window: Window, n: int) -> list[tuple[int, int]]:
    """The first `n` queue rows of the window, as (txid, seq)."""
    rows = conn.execute(window_sql("::text", False), {
        "tick": window.tick, "next_tick": window.next_tick, "pos_txid": str(window.pos[0]),
        "pos_seq": window.pos[1], "limit": n}).fetchall()
    return [(int(r["txid"]), r["seq"]) for r in rows]
