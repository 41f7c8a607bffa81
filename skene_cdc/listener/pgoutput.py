"""A decoder for PostgreSQL's `pgoutput` logical replication messages (protocol 1, and 2 for
streamed in-progress transactions).

Reference: PostgreSQL docs, "Logical Replication Message Formats". Everything is big-endian. The
decoder is stateful only in two ways: it caches Relation (and Type) messages by OID, because
changes refer to relations by OID only, and it tracks whether it is inside a Stream Start/Stop
block, because only there do change messages carry a leading transaction id.

Values arrive as text ('t'), binary ('b', unused: we ask for text), NULL ('n') or "unchanged
TOASTed value" ('u'). The last is not NULL: the column kept its value but the server did not send
it. It decodes to the `UNCHANGED` sentinel so nobody writes it as NULL by accident.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)

_I16 = struct.Struct("!h").unpack_from
_I32 = struct.Struct("!i").unpack_from
_U32 = struct.Struct("!I").unpack_from
_U64 = struct.Struct("!Q").unpack_from
_BEGIN = struct.Struct("!QqI").unpack_from  # final lsn, commit time, xid
_COMMIT = struct.Struct("!BQQq").unpack_from  # flags, commit lsn, end lsn, commit time
_STREAM_COMMIT = struct.Struct("!IBQQq").unpack_from  # xid + the Commit fields
_COLUMN = struct.Struct("!Ii").unpack_from  # type oid, typmod


class _Unchanged:
    """The sentinel for an unchanged TOASTed column (kind 'u'): a value we were not sent."""

    _instance: _Unchanged | None = None

    def __new__(cls) -> _Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __bool__(self) -> bool:
        return False


UNCHANGED: Final = _Unchanged()
Value = str | bytes | None | _Unchanged


def lsn_str(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    hi, _, lo = text.partition("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def pg_time(micros: int) -> datetime:
    return PG_EPOCH + timedelta(microseconds=micros)


# -- messages ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int
    typmod: int
    key: bool


@dataclass(frozen=True, slots=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str  # 'd' default, 'n' nothing, 'f' full, 'i' index
    columns: tuple[Column, ...]
    xid: int | None = None

    @property
    def qualified(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_time: int  # microseconds since 2000-01-01 UTC
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    flags: int
    lsn: int
    end_lsn: int
    commit_time: int


@dataclass(frozen=True, slots=True)
class Origin:
    lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class TypeInfo:
    oid: int
    namespace: str
    name: str
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Insert:
    relation: Relation
    new: list[Value]
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Update:
    relation: Relation
    new: list[Value]
    old: list[Value] | None  # the key ('K') or the whole old row ('O'), if the server sent one
    old_kind: str | None
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    relation: Relation
    old: list[Value]
    old_kind: str
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Truncate:
    relations: tuple[Relation, ...]
    options: int  # 1 = CASCADE, 2 = RESTART IDENTITY
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class StreamStart:
    xid: int
    first: bool


@dataclass(frozen=True, slots=True)
class StreamStop:
    pass


@dataclass(frozen=True, slots=True)
class StreamCommit:
    xid: int
    flags: int
    lsn: int
    end_lsn: int
    commit_time: int


@dataclass(frozen=True, slots=True)
class StreamAbort:
    xid: int
    subxid: int


Change = Insert | Update | Delete | Truncate
Decoded = (Begin | Commit | Origin | Relation | TypeInfo | Insert | Update | Delete | Truncate
           | Message | StreamStart | StreamStop | StreamCommit | StreamAbort)


class DecodeError(ValueError):
    pass


class Decoder:
    """Turns pgoutput message bytes (the payload of an XLogData frame) into message objects."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self.types: dict[int, TypeInfo] = {}
        self.in_stream = False

    def decode(self, buf: bytes) -> Decoded:
        kind = buf[0]
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise DecodeError(f"unknown pgoutput message type {chr(kind)!r}")
        try:
            return handler(self, buf)
        except (struct.error, IndexError, UnicodeDecodeError) as exc:
            raise DecodeError(f"malformed pgoutput {chr(kind)!r} message: {exc}") from exc

    # Streamed (protocol 2) changes carry the xid first, but only inside Stream Start/Stop.
    def _xid(self, buf: bytes) -> tuple[int | None, int]:
        if self.in_stream:
            return int(_U32(buf, 1)[0]), 5
        return None, 1

    def _begin(self, buf: bytes) -> Begin:
        lsn, ts, xid = _BEGIN(buf, 1)
        return Begin(lsn, ts, xid)

    def _commit(self, buf: bytes) -> Commit:
        flags, lsn, end, ts = _COMMIT(buf, 1)
        return Commit(flags, lsn, end, ts)

    def _origin(self, buf: bytes) -> Origin:
        name, _ = _cstring(buf, 9)
        return Origin(_U64(buf, 1)[0], name)

    def _relation(self, buf: bytes) -> Relation:
        xid, pos = self._xid(buf)
        oid = _U32(buf, pos)[0]
        namespace, pos = _cstring(buf, pos + 4)
        name, pos = _cstring(buf, pos)
        ident = chr(buf[pos])
        ncols = _I16(buf, pos + 1)[0]
        pos += 3
        cols = []
        for _ in range(ncols):
            flags = buf[pos]
            cname, pos = _cstring(buf, pos + 1)
            type_oid, typmod = _COLUMN(buf, pos)
            pos += 8
            cols.append(Column(cname, type_oid, typmod, bool(flags & 1)))
        # pgoutput resends a relation after any ALTER TABLE; the newest one wins.
        rel = Relation(oid, namespace or "pg_catalog", name, ident, tuple(cols), xid)
        self.relations[oid] = rel
        return rel

    def _type(self, buf: bytes) -> TypeInfo:
        xid, pos = self._xid(buf)
        oid = _U32(buf, pos)[0]
        namespace, pos = _cstring(buf, pos + 4)
        name, pos = _cstring(buf, pos)
        info = TypeInfo(oid, namespace, name, xid)
        self.types[oid] = info
        return info

    def _rel(self, oid: int) -> Relation:
        rel = self.relations.get(oid)
        if rel is None:
            raise DecodeError(f"change for relation OID {oid} arrived before its Relation message")
        return rel

    def _insert(self, buf: bytes) -> Insert:
        xid, pos = self._xid(buf)
        rel = self._rel(_U32(buf, pos)[0])
        if buf[pos + 4] != 0x4E:  # 'N'
            raise DecodeError("Insert without a new tuple")
        values, _ = read_tuple(buf, pos + 5)
        return Insert(rel, values, xid)

    def _update(self, buf: bytes) -> Update:
        xid, pos = self._xid(buf)
        rel = self._rel(_U32(buf, pos)[0])
        pos += 4
        old: list[Value] | None = None
        old_kind: str | None = None
        if buf[pos] in (0x4B, 0x4F):  # 'K' key columns, 'O' whole old row
            old_kind = chr(buf[pos])
            old, pos = read_tuple(buf, pos + 1)
        if buf[pos] != 0x4E:
            raise DecodeError("Update without a new tuple")
        new, _ = read_tuple(buf, pos + 1)
        return Update(rel, new, old, old_kind, xid)

    def _delete(self, buf: bytes) -> Delete:
        xid, pos = self._xid(buf)
        rel = self._rel(_U32(buf, pos)[0])
        kind = chr(buf[pos + 4])
        old, _ = read_tuple(buf, pos + 5)
        return Delete(rel, old, kind, xid)

    def _truncate(self, buf: bytes) -> Truncate:
        xid, pos = self._xid(buf)
        n = _U32(buf, pos)[0]
        options = buf[pos + 4]
        oids = struct.unpack_from(f"!{n}I", buf, pos + 5)
        return Truncate(tuple(self._rel(o) for o in oids), options, xid)

    def _message(self, buf: bytes) -> Message:
        xid, pos = self._xid(buf)
        flags = buf[pos]
        lsn = _U64(buf, pos + 1)[0]
        prefix, pos = _cstring(buf, pos + 9)
        length = _U32(buf, pos)[0]
        return Message(bool(flags & 1), lsn, prefix, bytes(buf[pos + 4:pos + 4 + length]), xid)

    def _stream_start(self, buf: bytes) -> StreamStart:
        self.in_stream = True
        return StreamStart(_U32(buf, 1)[0], buf[5] == 1)

    def _stream_stop(self, buf: bytes) -> StreamStop:
        self.in_stream = False
        return StreamStop()

    def _stream_commit(self, buf: bytes) -> StreamCommit:
        xid, flags, lsn, end, ts = _STREAM_COMMIT(buf, 1)
        return StreamCommit(xid, flags, lsn, end, ts)

    def _stream_abort(self, buf: bytes) -> StreamAbort:
        xid, subxid = struct.unpack_from("!II", buf, 1)
        return StreamAbort(xid, subxid)


_HANDLERS: dict[int, Callable[[Decoder, bytes], Decoded]] = {
    ord("B"): Decoder._begin, ord("C"): Decoder._commit, ord("O"): Decoder._origin,
    ord("R"): Decoder._relation, ord("Y"): Decoder._type, ord("I"): Decoder._insert,
    ord("U"): Decoder._update, ord("D"): Decoder._delete, ord("T"): Decoder._truncate,
    ord("M"): Decoder._message, ord("S"): Decoder._stream_start, ord("E"): Decoder._stream_stop,
    ord("c"): Decoder._stream_commit, ord("A"): Decoder._stream_abort,
}


def _cstring(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(0, pos)
    return buf[pos:end].decode(), end + 1


def read_tuple(buf: bytes, pos: int) -> tuple[list[Value], int]:
    """TupleData: Int16 column count, then per column a kind byte and maybe Int32 length + bytes.
    The hot loop of the whole pipeline: one struct call per value, no per-byte work."""
    n = _I16(buf, pos)[0]
    pos += 2
    out: list[Value] = [None] * n
    for i in range(n):
        kind = buf[pos]
        if kind == 0x74:  # 't'
            length = _I32(buf, pos + 1)[0]
            pos += 5
            out[i] = buf[pos:pos + length].decode()
            pos += length
        elif kind == 0x6E:  # 'n'
            pos += 1
        elif kind == 0x75:  # 'u'
            out[i] = UNCHANGED
            pos += 1
        elif kind == 0x62:  # 'b'
            length = _I32(buf, pos + 1)[0]
            pos += 5
            out[i] = bytes(buf[pos:pos + length])
            pos += length
        else:
            raise DecodeError(f"unknown tuple value kind {chr(kind)!r}")
    return out, pos
