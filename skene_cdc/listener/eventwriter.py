"""Writes batches of logically captured changes into the capture queue on its own thread and
connection, so the server ingests one batch while the stream reader decodes the next.

Each batch is one transaction: move the slot's resume point (last_lsn, last_seq) in
skene.replication, then one COPY into the current queue table. Batches are written strictly in
the order submitted, so what is committed is always a prefix of the stream, and the resume point
committed with it is exact. The rest of the checkpoint row (flush position, heartbeats) is
advisory and written at most once a second, after the batches it describes.

Commits are asynchronous (`synchronous_commit = off`): rows are visible at once, and the writer
never waits for an fsync, which would compete with the app's own commits. A batch counts as
durable only once the server's WAL flush position has passed its commit (checked with one query
per burst of batches), and only then does `durable`, the position reported to the slot, move.
A server crash can lose an unflushed batch, but that batch was never confirmed, so the slot sends
it again; and anything that read those rows and committed durably did so after them in the WAL,
so it flushed them too.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.db import connect
from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.logical_rows import COPY_COLUMNS

log = logging.getLogger("skene.logical")

COPY_SQL = "COPY skene.{} (" + COPY_COLUMNS + ") FROM STDIN"
STATE_EVERY = 1.0  # seconds between checkpoint-row updates


@dataclass
class Batch:
    lines: list[str]
    key: tuple[int, int] | None  # (commit LSN, seq) of the last line
    safe: int  # once committed, every transaction ending before this LSN is stored
    commit_time: int | None = None
    heartbeat: tuple[str, datetime] | None = None


class EventWriter:
    def __init__(self, url: str, slot: str, depth: int = 2, poll: float = 0.05) -> None:
        self.slot = slot
        self.poll = poll
        self.conn = connect(url, autocommit=True, application_name="skene-cdc logical writer")
        self.conn.execute("SET synchronous_commit = off")
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=depth)
        self.durable = 0
        self.written = 0
        self.error: BaseException | None = None
        self.unpositioned: list[int] = []  # committed; WAL position of the commit not yet known
        # (WAL position that must be flushed, stream position it makes durable), in order.
        self.unflushed: deque[tuple[int, int]] = deque()
        # What the next checkpoint-row update says (only committed batches).
        self.state: dict[str, object] = {}
        self.state_rows = 0
        self.state_at = 0.0
        self.thread = threading.Thread(target=self._run, name="skene-logical-writer", daemon=True)
        self.thread.start()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, batch: Batch) -> None:
        while True:
            self.check()
            try:
                self.queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    @property
    def busy(self) -> bool:
        return self.queue.unfinished_tasks > 0

    def wait_idle(self, durable: bool = True) -> None:
        """Until every submitted batch is committed (and, if `durable`, flushed to disk), and the
        checkpoint row is written."""
        with self.queue.all_tasks_done:
            while (self.queue.unfinished_tasks or (durable and (self.unflushed or self.unpositioned
                                                                or self.state))) \
                    and self.error is None:
                self.queue.all_tasks_done.wait(self.poll)
        self.check()

    def close(self) -> None:
        try:
            self.queue.put(None, timeout=5)
        except queue.Full:
            pass
        self.thread.join(timeout=30)
        self.conn.close()

    def _run(self) -> None:
        while True:
            waiting = self.unflushed or self.unpositioned or self.state
            try:
                batch = self.queue.get(timeout=self.poll if waiting else None)
            except queue.Empty:
                self._guard(self._settle, force_state=True)
                continue
            try:
                if batch is None:
                    return
                self._guard(self._write, batch)
                if self.queue.empty():  # end of a burst: one round trip settles all of it
                    self._guard(self._settle)
            finally:
                self.queue.task_done()

    def _guard(self, fn: Callable[..., None], *args: object, **kwargs: object) -> None:
        if self.error is not None:
            return
        try:
            fn(*args, **kwargs)
        except BaseException as exc:  # handed to the reader thread, which re-raises it
            self.error = exc
            with self.queue.all_tasks_done:
                self.queue.all_tasks_done.notify_all()

    def _write(self, batch: Batch) -> None:
        if batch.lines:
            with self.conn.transaction():
                key = batch.key or (None, None)
                row = self.conn.execute(sql.load("logical/queue_batch"), {
                    "slot": self.slot, "last_lsn": po.lsn_str(key[0]) if key[0] else None,
                    "last_seq": key[1]}).fetchone()
                assert row is not None, f"no skene.replication row for slot {self.slot}"
                copy_sql = pgsql.SQL(COPY_SQL).format(pgsql.Identifier(row["table"]))
                with self.conn.cursor().copy(copy_sql) as copy:
                    copy.write("".join(batch.lines))
            self.written += len(batch.lines)
            self.state_rows += len(batch.lines)
        if batch.lines or self.unpositioned:
            self.unpositioned.append(batch.safe)
        else:  # only a position: durable as soon as everything before it is
            self.unflushed.append((0, batch.safe))
            self._release(-1)
        state = self.state
        if batch.key:
            state["last_lsn"], state["last_seq"] = po.lsn_str(batch.key[0]), batch.key[1]
        state["flushed_lsn"] = po.lsn_str(batch.safe)
        if batch.commit_time:
            state["commit_at"] = po.pg_time(batch.commit_time)
        if batch.heartbeat:
            state["hb_sent"], state["hb_seen"] = batch.heartbeat

    def _settle(self, force_state: bool = False) -> None:
        """Learn where WAL is inserted (at or past every commit so far) and flushed; release what
        is durable; write the checkpoint row when it is due."""
        now = time.monotonic()
        if self.state and (force_state or "hb_sent" in self.state
                           or now - self.state_at >= STATE_EVERY):
            self.conn.execute(sql.load("logical/state_advance"), {
                "slot": self.slot, "n": self.state_rows, "last_lsn": None, "last_seq": None,
                "commit_at": None, "hb_sent": None, "hb_seen": None, **self.state})
            self.state, self.state_rows, self.state_at = {}, 0, now
        row = self.conn.execute(sql.load("logical/wal_positions")).fetchone()
        assert row is not None
        inserted = po.parse_lsn(row["inserted"])
        for safe in self.unpositioned:
            self.unflushed.append((inserted, safe))
        self.unpositioned.clear()
        self._release(po.parse_lsn(row["flushed"]))

    def _release(self, flushed: int) -> None:
        while self.unflushed and self.unflushed[0][0] <= max(flushed, 0):
            self.durable = max(self.durable, self.unflushed.popleft()[1])
        if not self.unflushed:
            with self.queue.all_tasks_done:
                self.queue.all_tasks_done.notify_all()
