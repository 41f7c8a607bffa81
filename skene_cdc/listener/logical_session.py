"""One replication connection's worth of state: read frames, turn changes into COPY lines, hand
batches to the writer, confirm what the writer made durable, answer keepalives, emit heartbeats.

Batching adapts to load: while the writer is busy with one batch, the next one grows (up to
batch_size rows or max_batch_delay); when it is idle, a batch goes once it is min_batch_delay old
(low latency when quiet, big batches when busy, never one transaction per change).
"""

from __future__ import annotations

import json
import logging
import struct
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row
from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.eventwriter import Batch, EventWriter
from skene_cdc.listener.logical_rows import RelationMapper, Rendered, TableSpec, copy_line
from skene_cdc.listener.slotops import SlotState, human, level
from skene_cdc.listener.spool import StreamSpool
from skene_cdc.listener.walstream import ReplicationStream

log = logging.getLogger("skene.logical")

HEARTBEAT_PREFIX = "skene.heartbeat"
_U32 = struct.Struct("!I").unpack_from
_KEEPALIVE = struct.Struct("!Qq?").unpack_from
_CHANGES = frozenset(b"IUDT")
_I, _B, _C, _R, _M, _S, _E, _SC, _SA = (ord(c) for c in "IBCRMSEcA")


@dataclass(frozen=True)
class SessionOptions:
    """What a session is told, fixed for its life (replication.LogicalCapture builds it)."""

    batch_size: int
    max_batch_delay: float  # seconds a batch may grow while the writer is busy
    min_batch_delay: float  # seconds a batch waits for company while the writer is idle
    heartbeat_interval: float
    spool_dir: str | None  # where streamed in-progress transactions wait (spool.py)
    max_slot_lag: int | None  # bytes; None: no limit


class Session:
    """The rest of its attributes is the state of the stream it reads, and changes per frame."""

    def __init__(self, cap: SessionOptions, aux: psycopg.Connection[Row], slot: str) -> None:
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
        self.hwm = (0, 0)  # (commit LSN, seq) of the newest change already in the queue
        self.replaying = False  # the current transaction is at or below hwm: check each change
        self.safe = 0  # every transaction ending before it is in skene.events or on its way
        self.submitted = 0  # `safe` as of the last batch handed to the writer
        self.reported = -1
        self.last_status = 0.0
        self.txn: tuple[int, str, str] | None = None  # commit LSN, as text, commit time as text
        self.lsn = 0  # the commit LSN of the transaction being read (the last one, between them)
        self.seq = 0
        self.stream_xid: int | None = None
        self.next_heartbeat = 0.0
        self.next_lag_warning = 0.0
        self.skipped = 0  # changes the server sent again that skene.events already had

    def load(self) -> None:
        aux = self.aux
        self.reload_specs()
        row = aux.execute(sql.load("logical/state_ensure"),
                          {"slot": self.slot, "interval": self.cap.heartbeat_interval}).fetchone()
        aux.commit()
        assert row is not None
        if row["state_lsn"] is not None:
            self.hwm = (po.parse_lsn(row["state_lsn"]), row["state_seq"] or 0)
        self.safe = self.submitted = po.parse_lsn(row["flushed_lsn"])

    def reload_specs(self) -> None:
        self.specs = {r["table_name"]: TableSpec(**r)
                      for r in self.aux.execute(sql.load("logical/captured_tables"))}
        self.aux.commit()

    # -- the loop ---------------------------------------------------------------------------------

    def loop(self, stop: threading.Event, until: int | None) -> None:
        stream, writer = self.stream, self.writer
        assert stream is not None and writer is not None
        read, on_message, delay = stream.read, self.on_message, self.cap.max_batch_delay
        gather = self.cap.min_batch_delay
        monotonic = time.monotonic
        frames = 0
        while not stop.is_set():
            buf = read()
            if buf is None:
                if stream.poll():
                    continue
                if until is not None and self.txn is None and self.safe >= until:
                    self.flush()
                    return
                if self.pending:
                    # Writer idle: send once the batch is `gather` old (one transaction per few
                    # ms, not per change, under a steady trickle). Busy: keep growing it.
                    age = monotonic() - self.pending_since
                    if age > delay or (age >= gather and not writer.busy):
                        self.flush()
                else:
                    self.flush()  # a bare position, if it moved
                self.report()
                self.periodic()
                stream.wait(max(0.001, gather / 2) if self.pending else
                            0.05 if writer.busy else 1.0)
                continue
            if buf[0] == 0x77:  # XLogData
                on_message(buf[25:])
                if self.pending and monotonic() - self.pending_since > delay:
                    self.flush()
            else:  # keepalive
                wal_end, _, reply = _KEEPALIVE(buf, 1)
                if self.txn is None and not self.pending:
                    self.safe = max(self.safe, wal_end)
                if reply:
                    self.report(force=True)
            frames += 1
            if frames & 255 == 0:
                self.report()
                if frames & 4095 == 0:
                    self.periodic()

    def on_message(self, payload: bytes) -> None:
        kind = payload[0]
        dec = self.decoder
        if kind == _I and not dec.in_stream:  # the hot path: no message object
            self.seq += 1
            mapper = self.mappers.get(_U32(payload, 1)[0])
            if mapper is None and _U32(payload, 1)[0] not in self.mappers:
                dec.decode(payload)  # a relation never announced: raises the protocol error
            if mapper is not None:
                if self.replaying and self.replayed():
                    return
                values, _ = po.read_tuple(payload, 6)
                self.append(mapper.render("insert", values))
            return
        if kind in _CHANGES:
            msg = dec.decode(payload)
            if dec.in_stream:
                top = self.stream_xid or 0
                for r in self.render(msg):  # type: ignore[arg-type]
                    self.spool.add(top, msg.xid or top, r)  # type: ignore[union-attr]
                return
            for r in self.render(msg):  # type: ignore[arg-type]
                self.seq += 1
                if r is None:
                    continue
                if not (self.replaying and self.replayed()):
                    self.append(r)
            return
        msg = dec.decode(payload)
        if kind == _B:
            assert isinstance(msg, po.Begin)
            self.begin(msg.final_lsn, msg.commit_time)
        elif kind == _C:
            assert isinstance(msg, po.Commit)
            self.end(msg.end_lsn, msg.commit_time)
        elif kind == _R:
            assert isinstance(msg, po.Relation)
            self.map_relation(msg)
        elif kind == _M:
            assert isinstance(msg, po.Message)
            if not msg.transactional:
                self.on_heartbeat(msg)
        elif kind == _S:
            assert isinstance(msg, po.StreamStart)
            self.stream_xid = msg.xid
        elif kind == _E:
            self.stream_xid = None
        elif kind == _SC:
            assert isinstance(msg, po.StreamCommit)
            self.begin(msg.lsn, msg.commit_time)
            for r in self.spool.commit(msg.xid):
                self.seq += 1
                if r is None:
                    continue
                if not (self.replaying and self.replayed()):
                    self.append(r)
            self.end(msg.end_lsn, msg.commit_time)
        elif kind == _SA:
            assert isinstance(msg, po.StreamAbort)
            self.spool.abort(msg.xid, msg.subxid)
        # Origin, Type: nothing to do beyond the decoder's caches

    def begin(self, lsn: int, commit_time: int) -> None:
        self.txn = (lsn, po.lsn_str(lsn), po.pg_time(commit_time).isoformat())
        self.lsn = lsn
        self.seq = 0
        self.replaying = lsn <= self.hwm[0]

    def end(self, end_lsn: int, commit_time: int) -> None:
        self.txn = None
        self.safe = max(self.safe, end_lsn)
        self.commit_time = commit_time

    def replayed(self) -> bool:
        """The one replay rule: a change at or below the newest one already in the queue
        ((commit LSN, position in its transaction) <= hwm) was written before; skip it. Callers
        test `self.replaying` first (false for every transaction past hwm), so the hot path
        pays one attribute read."""
        if (self.lsn, self.seq) > self.hwm:
            return False
        if not self.skipped:
            log.info("logical: the server is replaying changes skene.events already has (up to "
                     "%s #%d); skipping them", po.lsn_str(self.hwm[0]), self.hwm[1])
        self.skipped += 1
        return True

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
        if spec is None:
            self.reload_specs()  # maybe `migrate` added the table while we ran (rare, cheap)
            spec = self.specs.get(rel.qualified)
        self.mappers[rel.oid] = RelationMapper(rel, spec) if spec else None

    def append(self, r: Rendered) -> None:
        txn = self.txn
        assert txn is not None
        pending = self.pending
        if not pending:
            self.pending_since = time.monotonic()
        pending.append(copy_line(r.body, txn[2], txn[1], self.seq))
        self.pending_key = (txn[0], self.seq)
        if len(pending) >= self.cap.batch_size:
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
                now - self.last_status > self.stream.status_interval:
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
