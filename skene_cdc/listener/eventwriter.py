"""Writes batches of logical events into skene.events on its own thread and connection, so the
server ingests one batch (COPY, then commit) while the stream reader decodes the next.

Batches are written strictly in the order submitted, each in its own transaction together with
the checkpoint in skene.replication, so what is committed is always a prefix of the stream. The
queue is short (backpressure: a slow database stops the reader, memory stays flat). `durable`
is the stream position every committed batch covers: the only LSN ever reported to the server.
"""

from __future__ import annotations

import logging
import queue
import threading
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
    def __init__(self, url: str, slot: str, depth: int = 2) -> None:
        self.slot = slot
        self.conn = connect(url, application_name="skene-cdc logical writer")
        # Confirm only what survives a server crash, whatever the server's default is.
        self.conn.execute("SET synchronous_commit = on")
        self.conn.commit()
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=depth)
        self.durable = 0
        self.written = 0
        self.error: BaseException | None = None
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

    def wait_idle(self) -> None:
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks and self.error is None:
                self.queue.all_tasks_done.wait(0.5)
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
            batch = self.queue.get()
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
            conn.commit()
            self.written += len(batch.lines)
        # A batch with no rows only moves the position (transactions skene does not capture,
        # keepalives): in order, after every batch before it.
        self.durable = max(self.durable, batch.safe)
