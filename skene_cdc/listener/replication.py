"""Logical replication capture: stream the slot, write skene.events, then confirm.

Delivery guarantee, in order of events:
1. Changes arrive in commit order (protocol 1: a transaction is sent whole, after it committed).
   Each gets the key (commit LSN, position in its transaction).
2. Rows are written in batches, by COPY, each batch in one transaction that also advances
   skene.replication (the newest key written and the flush position). A large transaction is
   written across several batches: it is already committed at the source, so a reader seeing part
   of it early is harmless, and memory stays flat.
3. Only after that commit does the standby status update report the flush position (the end of
   the last transaction fully written). The server may then recycle that WAL.
4. After a crash (ours or the server's) the slot replays from the last position it persisted.
   Because batches commit in stream order, what is in skene.events is exactly a prefix of the
   stream: a replayed change whose key is at or below the newest key written is skipped. The
   unique index on (lsn, seq) turns any mistake in that reasoning into an error, never a duplicate.

Streamed in-progress transactions (protocol 2, `streaming=True`) wait in a local spool file until
Stream Commit; see spool.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime

import psycopg

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.db import Row, connect, require_schema
from skene_cdc.errors import SkeneError
from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.eventwriter import Batch, EventWriter
from skene_cdc.listener.logical_rows import RelationMapper, Rendered, TableSpec, copy_line
from skene_cdc.listener.service import run_with_reconnect
from skene_cdc.listener.slotops import SlotState, guard_inactive_slot, human, level, parse_size
from skene_cdc.listener.spool import StreamSpool
from skene_cdc.listener.walstream import Keepalive, ReplicationStream

log = logging.getLogger("skene.logical")

HEARTBEAT_PREFIX = "skene.heartbeat"
_CHANGES = frozenset(b"IUDT")
_B, _C, _R, _M, _S, _E, _SC, _SA = (ord(c) for c in "BCRMSEcA")


def uses_logical(config: Config) -> bool:
    return config.capture_mode(config.app.users.capture) == "logical" or any(
        config.capture_mode(a.capture) == "logical" for a in config.app.activity)


class LogicalCapture:
    """The `logical` service of `skene-cdc listen`: runs before the event consumer."""

    name = "logical"

    def __init__(self, url: str, config: Config, *, proto: int = 1, streaming: bool = False,
                 batch_size: int = 5000, max_batch_delay: float = 0.05,
                 heartbeat_interval: float = 10.0, status_interval: float = 10.0,
                 extra_options: str = "", spool_dir: str | None = None) -> None:
        self.url = url
        self.config = config
        self.proto = 2 if streaming else proto
        self.streaming = streaming
        self.batch_size = batch_size
        self.max_batch_delay = max_batch_delay
        self.heartbeat_interval = heartbeat_interval
        self.status_interval = status_interval
        self.extra_options = extra_options
        self.spool_dir = spool_dir
        self.max_slot_lag = parse_size(config.capture.max_slot_lag, config.where("capture"))
        self.done = 0  # events written by finished sessions
        self.writer: EventWriter | None = None

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
            lost = guard_inactive_slot(aux, slot, self.max_slot_lag)
            state = SlotState.read(aux, slot)
            aux.commit()
            if lost or state is None:
                raise SkeneError(f"replication slot {slot!r} " + (
                    f"was lost: {lost}" if lost else "does not exist"),
                    hint="Run `skene-cdc migrate` to create it")
            session = _Session(self, aux, slot)
            session.load()
            stream = ReplicationStream(self.url, slot, publication, proto=self.proto,
                                       streaming=self.streaming, start_lsn=session.safe,
                                       extra_options=self.extra_options)
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
                if session.replayed:
                    log.info("logical: skipped %d replayed changes already in skene.events",
                             session.replayed)
                session.spool.clear()
                stream.close()


class _Session:
    """One connection's worth of streaming state."""

    def __init__(self, cap: LogicalCapture, aux: psycopg.Connection[Row], slot: str) -> None:
        self.cap = cap
        self.aux = aux  # heartbeats, slot checks, captured_tables; events go through the writer
        self.slot = slot
        self.stream: ReplicationStream | None = None
        self.writer: EventWriter | None = None
        self.decoder = po.Decoder()
        self.specs: dict[str, TableSpec] = {}
        self.mappers: dict[int, RelationMapper | None] = {}
        self.spool = StreamSpool(cap.spool_dir)
        self.pending: list[str] = []
        self.pending_since = 0.0
        self.pending_key: tuple[int, int] | None = None
        self.commit_time: int | None = None
        self.heartbeat: tuple[str, datetime] | None = None
        self.hwm = (0, 0)
        self.safe = 0  # every transaction ending before it is in skene.events or on its way
        self.submitted = 0  # `safe` as of the last batch handed to the writer
        self.reported = -1
        self.last_status = 0.0
        self.txn: tuple[int, str, str] | None = None  # commit LSN, as text, commit time as text
        self.seq = 0
        self.stream_xid: int | None = None
        self.next_heartbeat = 0.0
        self.next_lag_warning = 0.0
        self.replayed = 0  # changes the server sent again that skene.events already had

    def load(self) -> None:
        aux = self.aux
        self.specs = {r["table_name"]: TableSpec(**r)
                      for r in aux.execute(sql.load("logical/captured_tables"))}
        row = aux.execute(sql.load("logical/state_ensure"),
                          {"slot": self.slot, "interval": self.cap.heartbeat_interval}).fetchone()
        aux.commit()
        assert row is not None
        keys = [(0, 0)]
        for lsn, seq in ((row["state_lsn"], row["state_seq"]), (row["event_lsn"], row["event_seq"])):
            if lsn is not None:
                keys.append((po.parse_lsn(lsn), seq or 0))
        self.hwm = max(keys)
        self.safe = self.submitted = po.parse_lsn(row["flushed_lsn"])

    # -- the loop ---------------------------------------------------------------------------------

    def loop(self, stop: threading.Event, until: int | None) -> None:
        stream, writer = self.stream, self.writer
        assert stream is not None and writer is not None
        frames = 0
        while not stop.is_set():
            frame = stream.read()
            if frame is None:
                if stream.poll():
                    continue
                self.flush()
                if until is not None and self.safe >= until:
                    writer.wait_idle()
                    return
                self.report()
                self.periodic()
                stream.wait(0.05 if writer.busy else 1.0)
                continue
            if type(frame) is Keepalive:
                if self.txn is None and not self.pending:
                    self.safe = max(self.safe, frame.wal_end)
                if frame.reply:
                    self.report(force=True)
            else:
                self.on_message(frame.payload)  # type: ignore[union-attr]
                if self.pending and time.monotonic() - self.pending_since > self.cap.max_batch_delay:
                    self.flush()
            frames += 1
            if frames & 1023 == 0:
                self.report()
                self.periodic()

    def on_message(self, payload: bytes) -> None:
        kind = payload[0]
        dec = self.decoder
        if kind in _CHANGES:
            msg = dec.decode(payload)
            if dec.in_stream:
                top = self.stream_xid or 0
                for r in self.render(msg):  # type: ignore[arg-type]
                    self.spool.add(top, msg.xid or top, r)  # type: ignore[union-attr]
                return
            txn = self.txn
            assert txn is not None, "change outside a transaction"
            for r in self.render(msg):  # type: ignore[arg-type]
                self.seq += 1
                if r is not None:
                    if (txn[0], self.seq) > self.hwm:
                        self.append(r)
                    else:
                        self.skip()
        elif kind == _B:
            begin = dec.decode(payload)
            assert isinstance(begin, po.Begin)
            self.begin(begin.final_lsn, begin.commit_time)
        elif kind == _C:
            commit = dec.decode(payload)
            assert isinstance(commit, po.Commit)
            self.end(commit.end_lsn, commit.commit_time)
        elif kind == _R:
            rel = dec.decode(payload)
            assert isinstance(rel, po.Relation)
            self.map_relation(rel)
        elif kind == _M:
            m = dec.decode(payload)
            assert isinstance(m, po.Message)
            if not m.transactional:
                self.on_heartbeat(m)
        elif kind == _S:
            start = dec.decode(payload)
            assert isinstance(start, po.StreamStart)
            self.stream_xid = start.xid
        elif kind == _E:
            dec.decode(payload)
            self.stream_xid = None
        elif kind == _SC:
            sc = dec.decode(payload)
            assert isinstance(sc, po.StreamCommit)
            self.begin(sc.lsn, sc.commit_time)
            for r in self.spool.commit(sc.xid):
                self.seq += 1
                if r is not None:
                    if (sc.lsn, self.seq) > self.hwm:
                        self.append(r)
                    else:
                        self.skip()
            self.end(sc.end_lsn, sc.commit_time)
        elif kind == _SA:
            sa = dec.decode(payload)
            assert isinstance(sa, po.StreamAbort)
            self.spool.abort(sa.xid, sa.subxid)
        else:
            dec.decode(payload)  # Origin, Type: nothing to do beyond the decoder's caches

    def skip(self) -> None:
        if not self.replayed:
            log.info("logical: the server is replaying changes skene.events already has (up to "
                     "%s #%d); skipping them", po.lsn_str(self.hwm[0]), self.hwm[1])
        self.replayed += 1

    def begin(self, lsn: int, commit_time: int) -> None:
        self.txn = (lsn, po.lsn_str(lsn), po.pg_time(commit_time).isoformat())
        self.seq = 0

    def end(self, end_lsn: int, commit_time: int) -> None:
        self.txn = None
        self.safe = max(self.safe, end_lsn)
        self.commit_time = commit_time

    def render(self, msg: po.Change) -> list[Rendered | None]:
        if isinstance(msg, po.Truncate):
            out: list[Rendered | None] = []
            for rel in msg.relations:
                m = self.mappers.get(rel.oid)
                out.append(Rendered(m.truncate_body, None) if m else None)
            return out
        mapper = self.mappers.get(msg.relation.oid)
        if mapper is None:
            return [None]
        if isinstance(msg, po.Insert):
            return [mapper.insert(msg)]
        if isinstance(msg, po.Update):
            return [mapper.update(msg)]
        return [mapper.delete(msg)]

    def map_relation(self, rel: po.Relation) -> None:
        spec = self.specs.get(rel.qualified)
        if spec is None and not self.pending:
            # Maybe `migrate` added the table while we ran: look again (cheap, and rare).
            self.specs = {r["table_name"]: TableSpec(**r)
                          for r in self.aux.execute(sql.load("logical/captured_tables"))}
            self.aux.commit()
            spec = self.specs.get(rel.qualified)
        self.mappers[rel.oid] = RelationMapper(rel, spec) if spec else None

    def append(self, r: Rendered) -> None:
        txn = self.txn
        assert txn is not None
        if not self.pending:
            self.pending_since = time.monotonic()
        self.pending.append(copy_line(r.body, r.occurred_at or txn[2], txn[1], self.seq))
        self.pending_key = (txn[0], self.seq)
        if len(self.pending) >= self.cap.batch_size:
            self.flush()

    def on_heartbeat(self, m: po.Message) -> None:
        if m.prefix == HEARTBEAT_PREFIX:
            try:
                content = json.loads(m.content)
            except ValueError:
                content = {}
            if content.get("slot") == self.slot:
                self.heartbeat = (content.get("at"), datetime.now(UTC))
        if self.txn is None:
            self.safe = max(self.safe, m.lsn)

    # -- writing and confirming ---------------------------------------------------------------

    def flush(self) -> None:
        """Hand what is pending to the writer (also a bare position, so it gets confirmed)."""
        if not (self.pending or self.heartbeat or self.safe > self.submitted):
            return
        assert self.writer is not None
        self.writer.submit(Batch(self.pending, self.pending_key, self.safe, self.commit_time,
                                 self.heartbeat))
        self.submitted = self.safe
        if self.pending_key:
            self.hwm = self.pending_key
        self.pending = []
        self.pending_key = None
        self.heartbeat = None

    def report(self, force: bool = False) -> None:
        """Standby status: the writer's durable position, never more."""
        assert self.stream is not None and self.writer is not None
        self.writer.check()
        flushed = self.writer.durable
        now = time.monotonic()
        if force or (flushed > self.reported and now - self.last_status > 0.02) or \
                now - self.last_status > self.cap.status_interval:
            self.stream.send_status(flushed)
            self.reported = flushed
            self.last_status = now

    def emit_heartbeat(self) -> int:
        row = self.aux.execute(sql.load("logical/heartbeat_emit"),
                               {"prefix": HEARTBEAT_PREFIX, "slot": self.slot}).fetchone()
        self.aux.commit()
        assert row is not None
        return po.parse_lsn(row["lsn"])

    def periodic(self) -> None:
        now = time.monotonic()
        if now < self.next_heartbeat:
            return
        self.next_heartbeat = now + self.cap.heartbeat_interval
        self.emit_heartbeat()
        state = SlotState.read(self.aux, self.slot)
        self.aux.commit()
        limit = self.cap.max_slot_lag
        if state and level(state.lag_bytes, limit) != "ok" and now >= self.next_lag_warning:
            self.next_lag_warning = now + 60
            log.warning("logical: slot %s is %s behind (capture.max_slot_lag %s): the server keeps "
                        "that much WAL until skene catches up", self.slot,
                        human(state.lag_bytes), human(limit))


def build_logical(url: str, config: Config) -> list[LogicalCapture]:
    """The seam for listener/runner.build_services: one service if any table is logical."""
    return [LogicalCapture(url, config)] if uses_logical(config) else []


__all__ = ["LogicalCapture", "build_logical", "uses_logical", "SkeneError"]
