"""The streaming replication protocol over psycopg 3's libpq layer (psycopg has no replication
API, but `replication=database` + START_REPLICATION + CopyBoth works through `pgconn`).

Frames from the server: XLogData `w` (start LSN, end LSN, send time, pgoutput message) and
keepalive `k` (server WAL end, time, reply-requested). Frames to the server: standby status `r`
(written, flushed, applied LSN, time, reply-requested). Reporting a flushed LSN lets the server
discard WAL up to it, so callers pass only positions whose events are committed. The session
(logical_session.py) reads frames inline, in its hot loop, rather than through objects here.
"""

from __future__ import annotations

import select
import struct
import time

import psycopg
from psycopg import pq

from skene_cdc.db import redact
from skene_cdc.listener.pgjson import pinned_options
from skene_cdc.listener.pgoutput import PG_EPOCH

_STATUS = struct.Struct("!cQQQq?")
_EPOCH_UNIX = PG_EPOCH.timestamp()

# Server-side settings for the walsender session: the settings a captured row's JSON is computed
# under in both modes (pgjson.PINNED_SETTINGS), whatever the server's, database's or role's
# defaults are, so every value's output text is already what to_json would embed.
SESSION_OPTIONS = pinned_options()


def now_micros() -> int:
    return int((time.time() - _EPOCH_UNIX) * 1_000_000)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ReplicationStream:
    """One START_REPLICATION session. Not thread-safe; one reader."""

    def __init__(self, url: str, slot: str, publication: str, *, proto: int = 1,
                 streaming: bool = False, start_lsn: int = 0,
                 extra_options: str = "", status_interval: float = 10.0) -> None:
        self.url = url
        self.slot = slot
        self.publication = publication
        self.proto = proto
        self.streaming = streaming
        self.start_lsn = start_lsn
        self.extra_options = extra_options
        self.status_interval = status_interval  # at most this long between status updates
        self.conn: psycopg.Connection[tuple[object, ...]] | None = None

    def open(self) -> None:
        try:
            self.conn = psycopg.connect(
                self.url, autocommit=True, replication="database",
                application_name="skene-cdc logical",
                options=f"{SESSION_OPTIONS} {self.extra_options}".strip())
        except psycopg.OperationalError as exc:
            raise psycopg.OperationalError(
                f"cannot open a replication connection to {redact(self.url)}: "
                f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}") from None
        pgconn = self.conn.pgconn
        # The server drops a client silent for wal_sender_timeout. Its keepalive requests queue
        # behind the data already in flight, so answering them is not enough while a large
        # transaction streams: status updates also go out unasked, several per timeout.
        setting = pgconn.exec_(b"SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'")
        if setting.status == pq.ExecStatus.TUPLES_OK and setting.ntuples:
            timeout_ms = int((setting.get_value(0, 0) or b"0").decode())
            if timeout_ms > 0:
                self.status_interval = min(self.status_interval, timeout_ms / 1000 / 4)
        opts = [f"proto_version '{self.proto}'",
                f"publication_names '{_quote_ident(self.publication)}'",
                "messages 'true'"]
        if self.streaming and self.proto >= 2:
            opts.append("streaming 'on'")
        lsn = f"{self.start_lsn >> 32:X}/{self.start_lsn & 0xFFFFFFFF:X}"
        query = (f"START_REPLICATION SLOT {_quote_ident(self.slot)} LOGICAL {lsn} "
                 f"({', '.join(opts)})")
        pgconn.send_query(query.encode())
        while pgconn.flush() == 1:
            self._wait(read=False, timeout=1.0)
        deadline = time.monotonic() + 60
        while True:
            pgconn.consume_input()
            if not pgconn.is_busy():
                break
            if time.monotonic() > deadline:
                self.close()
                raise psycopg.OperationalError("START_REPLICATION: no answer from the server")
            self._wait(read=True, timeout=1.0)
        res = pgconn.get_result()
        if res is None or res.status != pq.ExecStatus.COPY_BOTH:
            msg = res.error_message.decode(errors="replace").strip() if res else ""
            sqlstate = res.error_field(pq.DiagnosticField.SQLSTATE) if res else None
            self.close()
            # 55006: the slot is held by another walsender (often the previous, killed listener's,
            # which the server has not yet noticed is gone): worth retrying, like a lost link.
            raise psycopg.OperationalError(
                f"START_REPLICATION failed: {msg or pgconn.error_message.decode()}"
                + (f" [{sqlstate.decode()}]" if sqlstate else ""))

    @property
    def socket(self) -> int:
        assert self.conn is not None
        return self.conn.pgconn.socket

    def read(self) -> bytes | None:
        """The next buffered frame as is ('w' XLogData or 'k' keepalive; see parse_frame), or
        None when nothing is buffered (never blocks). Raw bytes: this runs once per change."""
        assert self.conn is not None
        pgconn = self.conn.pgconn
        n, mv = pgconn.get_copy_data(1)
        if n > 0:
            obj = mv.obj
            return obj if type(obj) is bytes else bytes(mv)
        if n == 0:
            return None
        res = pgconn.get_result()
        msg = res.error_message.decode(errors="replace").strip() if res else ""
        raise psycopg.OperationalError(f"replication stream ended: {msg or 'server closed it'}")

    def poll(self) -> bool:
        """Pull whatever the socket holds into libpq's buffer without blocking; True if any."""
        assert self.conn is not None
        if self._wait(read=True, timeout=0):
            self.conn.pgconn.consume_input()
            return True
        return False

    def wait(self, timeout: float) -> None:
        """Block until the server sent something (or timeout), then pull it into libpq's buffer."""
        assert self.conn is not None
        if self._wait(read=True, timeout=timeout):
            self.conn.pgconn.consume_input()

    def _wait(self, *, read: bool, timeout: float | None) -> bool:
        sock = self.socket
        r, w, _ = select.select([sock] if read else [], [] if read else [sock], [], timeout)
        return bool(r or w)

    def send_status(self, flushed: int, *, reply: bool = False) -> None:
        """Standby status update: written = flushed = applied = what is durably in skene.events."""
        assert self.conn is not None
        pgconn = self.conn.pgconn
        msg = _STATUS.pack(b"r", flushed, flushed, flushed, now_micros(), reply)
        while pgconn.put_copy_data(msg) == 0:
            self._wait(read=False, timeout=1.0)
        while pgconn.flush() == 1:
            self._wait(read=False, timeout=1.0)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None
