"""Logical replication capture: stream the slot, write skene.events, then confirm.

Delivery guarantee, in order of events:
1. Changes arrive in commit order (protocol 1: a transaction is sent whole, after it committed).
   Each gets the key (commit LSN, position in its transaction).
2. Rows are written in batches, one COPY each, in stream order (eventwriter.py). A large
   transaction is written across several batches: it is already committed at the source, so a
   reader seeing part of it early is harmless, and memory stays flat.
3. Only after that commit (and the WAL flush that makes it durable) does the standby status
   update report the flush position (the end of the last transaction fully written). The server
   may then recycle that WAL.
4. After a crash (ours or the server's) the slot replays from the last position it persisted.
   Because batches commit in stream order, what is in skene.events is exactly a prefix of the
   stream: a replayed change whose key is at or below the newest key written is skipped. The
   unique index on (lsn, seq) turns any mistake in that reasoning into an error, never a duplicate.

Streamed in-progress transactions (protocol 2, `streaming=True`) wait in a local spool file until
Stream Commit; see spool.py. The per-connection streaming state is in logical_session.py, the
writer thread in eventwriter.py.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row, connect, require_schema
from skene_cdc.errors import SkeneError
from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.eventwriter import EventWriter
from skene_cdc.listener.logical_session import Session, SessionOptions
from skene_cdc.listener.slotops import SlotState, guard_inactive_slot
from skene_cdc.listener.walstream import ReplicationStream
from skene_cdc.service import run_with_reconnect

log = logging.getLogger("skene.logical")



def uses_logical(config: Config) -> bool:
    return config.capture_mode(config.app.users.capture) == "logical" or any(
        config.capture_mode(a.capture) == "logical" for a in config.app.activity)


class LogicalCapture:
    """The `logical` service of `skene-cdc listen`: runs before the event consumer."""

    name = "logical"

    def __init__(self, url: str, config: Config, *, proto: int = 1, streaming: bool = False,
                 batch_size: int = 5000, max_batch_delay: float = 0.05,
                 min_batch_delay: float = 0.005,
                 heartbeat_interval: float = 10.0, status_interval: float = 10.0,
                 extra_options: str = "", spool_dir: str | None = None,
                 guard_grace: float = 60.0) -> None:
        self.url = url
        self.config = config
        self.proto = 2 if streaming else proto
        self.streaming = streaming
        self.batch_size = batch_size
        self.max_batch_delay = max_batch_delay
        self.min_batch_delay = min_batch_delay
        self.heartbeat_interval = heartbeat_interval
        self.status_interval = status_interval
        self.extra_options = extra_options
        self.spool_dir = spool_dir
        self.guard_grace = guard_grace
        self.max_slot_lag = config.capture.max_slot_lag
        self.done = 0  # events written by finished sessions
        self.writer: EventWriter | None = None

    def session_options(self) -> SessionOptions:
        """Read when a session starts, so a setting changed in between (benchmarks do) applies
        from the next connection on, and never halfway through one."""
        return SessionOptions(self.batch_size, self.max_batch_delay, self.min_batch_delay,
                              self.heartbeat_interval, self.spool_dir, self.max_slot_lag)

    @property
    def processed(self) -> int:
        """Events written into skene.events so far (live, for tests and benchmarks)."""
        return self.done + (self.writer.written if self.writer else 0)

    def drain(self) -> int:
        """`--once`: capture everything committed before now, then return."""
        before = self.processed
        self._session(threading.Event(), drain=True)
        return self.processed - before

    def run(self, stop: threading.Event) -> None:
        run_with_reconnect(self.name, lambda: self._session(stop), stop)

    def _names(self, conn: psycopg.Connection[Row]) -> tuple[str, str]:
        row = conn.execute(sql.load("logical/names")).fetchone() or {}
        return (row.get("slot") or self.config.capture.slot,
                row.get("publication") or self.config.capture.publication)

    def _session(self, stop: threading.Event, drain: bool = False) -> None:
        with connect(self.url) as aux:
            require_schema(aux)  # after `uninstall`, say so (and retry) rather than crash
            slot, publication = self._names(aux)
            aux.commit()
            lost = guard_inactive_slot(aux, slot, self.max_slot_lag, self.guard_grace)
            state = SlotState.read(aux, slot)
            aux.commit()
            if lost or state is None:
                raise SkeneError(f"replication slot {slot!r} " + (
                    f"was lost: {lost}" if lost else "does not exist"),
                    hint="Run `skene-cdc migrate` to create it")
            session = Session(self.session_options(), aux, slot)
            session.load()
            stream = ReplicationStream(self.url, slot, publication, proto=self.proto,
                                       streaming=self.streaming, start_lsn=session.safe,
                                       extra_options=self.extra_options,
                                       status_interval=self.status_interval)
            writer = EventWriter(self.url, slot)
            writer.durable = session.safe
            self.writer = writer
            session.writer = writer
            clean = False
            try:
                stream.open()
                session.stream = stream
                log.info("logical: streaming slot %s (publication %s) from %s", slot,
                         publication, po.lsn_str(session.safe))
                until = session.emit_heartbeat() if drain else None
                session.loop(stop, until)
                clean = True
            finally:
                if clean:
                    session.flush()
                    writer.wait_idle()
                    session.report(force=True)
                writer.close()
                self.done += writer.written
                self.writer = None
                if session.skipped:
                    log.info("logical: skipped %d replayed changes already in skene.events",
                             session.skipped)
                session.spool.clear()
                stream.close()


def build_logical(url: str, config: Config) -> list[LogicalCapture]:
    """The seam for runtime/services.build_services: one service if any table is logical."""
    return [LogicalCapture(url, config)] if uses_logical(config) else []


__all__ = ["LogicalCapture", "build_logical", "uses_logical", "SkeneError"]
