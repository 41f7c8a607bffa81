"""Writes batches of logical events into skene.events on its own thread and connection, so the
server ingests one batch (COPY, then commit) while the stream reader decodes the next.

Batches are written strictly in the order submitted, each in its own transaction together with
the checkpoint in skene.replication, so what is committed is always a prefix of the stream. The
queue is short (backpressure: a slow database stops the reader, memory stays flat).

Commits are asynchronous (`synchronous_commit = off`): the rows are visible at once, and the
writer does not wait for an fsync per batch, which would compete with the app's own commits.
A batch only counts as durable once the server's WAL flush position has passed its commit
record (`pg_current_wal_flush_lsn()`), and only then does `durable` (the position reported to
the slot) move. A server crash can lose an unflushed batch, but that batch was never confirmed,
so the slot sends it again; and anything that read those rows and committed durably after them
flushed them too (WAL is flushed in order).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from skene_cdc import sql
from skene_cdc.db import connect
from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.logical_rows import COPY_COLUMNS

log = logging.getLogger("skene.logical")

COPY_SQL = f"COPY skene.events ({COPY_COLUMNS}) FROM STDIN"


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
        # (WAL position that must be flushed, stream position it makes durable), in order.
        self.unflushed: deque[tuple[int, int]] = deque()
        self.last_commit = 0
        self._flushed_lsn = 0
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
        """Until every submitted batch is committed (and, if `durable`, flushed)."""
        with self.queue.all_tasks_done:
            while (self.queue.unfinished_tasks or (durable and self.unflushed)) \
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
            try:
                batch = self.queue.get(timeout=self.poll if self.unflushed else None)
            except queue.Empty:
                self._track_flush()
                continue
            try:
                if batch is None:
                    return
                if self.error is None:
                    self._write(batch)
            except BaseException as exc:  # handed to the reader thread, which re-raises it
                self.error = exc
            finally:
                self.queue.task_done()

    def _write(self, batch: Batch) -> None:
        if batch.lines or batch.heartbeat:
            conn = self.conn
            with conn.transaction():
                if batch.lines:
                    with conn.cursor().copy(COPY_SQL) as copy:
                        copy.write("".join(batch.lines))
                key = batch.key
                conn.execute(sql.load("logical/state_advance"), {
                    "slot": self.slot, "n": len(batch.lines),
                    "last_lsn": po.lsn_str(key[0]) if key else None,
                    "last_seq": key[1] if key else None,
                    "flushed_lsn": po.lsn_str(batch.safe),
                    "commit_at": po.pg_time(batch.commit_time) if batch.commit_time else None,
                    "hb_sent": batch.heartbeat[0] if batch.heartbeat else None,
                    "hb_seen": batch.heartbeat[1] if batch.heartbeat else None})
            self.written += len(batch.lines)
            self.last_commit = self._track_flush(inserted=True)
        # A batch with no rows only moves the position (transactions skene does not capture,
        # keepalives): durable as soon as everything before it is.
        self.unflushed.append((self.last_commit, batch.safe))
        self._release(self._flushed_lsn)

    def _track_flush(self, inserted: bool = False) -> int:
        """Ask the server how far WAL is flushed (and, after a commit, where it inserts now:
        at or past that commit's record). Returns the insert position."""
        row = self.conn.execute(sql.load("logical/wal_positions")).fetchone()
        assert row is not None
        self._flushed_lsn = po.parse_lsn(row["flushed"])
        self._release(self._flushed_lsn)
        return po.parse_lsn(row["inserted"]) if inserted else 0

    def _release(self, flushed: int) -> None:
        while self.unflushed and self.unflushed[0][0] <= flushed:
            self.durable = max(self.durable, self.unflushed.popleft()[1])
        if not self.unflushed:
            with self.queue.all_tasks_done:
                self.queue.all_tasks_done.notify_all()
