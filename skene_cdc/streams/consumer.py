"""A Redis Stream read into PostgreSQL through a consumer group, nothing lost, nothing twice.

Each batch: XREADGROUP -> write the entries in ONE PostgreSQL transaction -> commit -> XACK.
A crash before the commit leaves the entries pending: this consumer re-reads its own pending
entries (XREADGROUP from id 0) when it starts, and any consumer claims the pending entries of a
consumer that has been silent for `claim_after` (XAUTOCLAIM). A crash between commit and XACK
re-delivers entries that are already stored: sinks insert with ON CONFLICT DO NOTHING on
(source, external_id = "<stream>:<entry id>"), so they land exactly once.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
import redis

from skene_cdc.db import Row, connect
from skene_cdc.errors import SkeneError, first_line
from skene_cdc.service import run_with_reconnect

log = logging.getLogger("skene.streams")

Entry = tuple[str, dict[str, str]]


class Sink(Protocol):
    def write(self, conn: psycopg.Connection[Row], stream: str, entries: Sequence[Entry]) -> int:
        """Store the entries inside the caller's transaction; return how many were new."""
        ...


def default_consumer() -> str:
    # Stable across restarts on one host, so a restarted listener finds its own pending entries.
    return socket.gethostname()


class StreamConsumer:
    def __init__(self, *, name: str, url: str, redis_url: str, stream: str, group: str,
                 sink: Sink, consumer: str | None = None, batch_size: int = 500,
                 claim_after: float = 60.0, start: str = "0", delete_acked: bool = False,
                 block: float = 1.0) -> None:
        self.name, self.url, self.redis_url = name, url, redis_url
        self.stream, self.group, self.sink = stream, group, sink
        self.consumer = consumer or default_consumer()
        self.batch_size, self.claim_after, self.start = batch_size, claim_after, start
        self.delete_acked = delete_acked  # our own streams: XDEL once stored, to bound memory
        self.block = block
        self.stored = 0      # entries that were new in PostgreSQL
        self.acked = 0

    def _redis(self) -> redis.Redis:
        # The socket timeout must outlast a blocking XREADGROUP.
        return redis.Redis.from_url(self.redis_url, decode_responses=True,
                                    socket_timeout=self.block + 10, socket_connect_timeout=5)

    def ensure_group(self, r: redis.Redis) -> None:
        try:
            r.xgroup_create(self.stream, self.group, id=self.start, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- one batch ---------------------------------------------------------------------------

    def commit(self, conn: psycopg.Connection[Row], r: redis.Redis,
               entries: Sequence[tuple[str, dict[str, str] | None]]) -> int:
        """Store, commit, then acknowledge. Entries deleted from the stream (fields None) are
        only acknowledged."""
        present = [(i, f) for i, f in entries if f]
        with conn.transaction():
            new = self.sink.write(conn, self.stream, present) if present else 0
        ids = [i for i, _ in entries]
        pipe = r.pipeline(transaction=False)
        pipe.xack(self.stream, self.group, *ids)
        if self.delete_acked:
            pipe.xdel(self.stream, *ids)
        pipe.execute()
        self.stored += new
        self.acked += len(ids)
        return len(ids)

    def read_pending(self, r: redis.Redis, after: str = "0") -> list[tuple[str, dict[str, str] | None]]:
        """This consumer's own delivered-but-unacknowledged entries (after a crash)."""
        reply: Any = r.xreadgroup(self.group, self.consumer, {self.stream: after},
                                  count=self.batch_size)
        return list(reply[0][1]) if reply else []

    def claim(self, r: redis.Redis, start: str = "0-0") -> tuple[str, list[tuple[str, Any]]]:
        """Entries pending longer than claim_after on any consumer (a dead one): take them."""
        reply: Any = r.xautoclaim(self.stream, self.group, self.consumer,
                                  min_idle_time=int(self.claim_after * 1000), start_id=start,
                                  count=self.batch_size)
        return str(reply[0]), list(reply[1])

    def read_new(self, r: redis.Redis, block: float | None) -> list[tuple[str, dict[str, str]]]:
        reply: Any = r.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                  count=self.batch_size,
                                  block=int(block * 1000) if block else None)
        return list(reply[0][1]) if reply else []

    def recover(self, conn: psycopg.Connection[Row], r: redis.Redis) -> int:
        """Finish what a crash left: our own pending entries, then a silent consumer's."""
        done, after = 0, "0"
        while batch := self.read_pending(r, after):
            done += self.commit(conn, r, batch)
            after = batch[-1][0]
        return done + self.claim_all(conn, r)

    def claim_all(self, conn: psycopg.Connection[Row], r: redis.Redis) -> int:
        done, start = 0, "0-0"
        while True:
            start, batch = self.claim(r, start)
            if batch:
                done += self.commit(conn, r, batch)
            if start == "0-0" or not batch:
                return done

    # -- Service -----------------------------------------------------------------------------

    def drain(self) -> int:
        with self._redis() as r, connect(self.url) as conn:
            try:
                self.ensure_group(r)
                done = self.recover(conn, r)
                while batch := self.read_new(r, None):
                    done += self.commit(conn, r, batch)
                return done
            except redis.RedisError as exc:
                raise _unreachable(self.redis_url, exc) from None

    def run(self, stop: threading.Event) -> None:
        run_with_reconnect(self.name, lambda: self._run(stop), stop)

    def _run(self, stop: threading.Event) -> None:
        try:
            with self._redis() as r, connect(self.url) as conn:
                self.ensure_group(r)
                self.on_connect(conn, r)
                self.recover(conn, r)
                next_claim = time.monotonic() + self.claim_after / 2
                while not stop.is_set():
                    batch = self.read_new(r, self.block)
                    if batch:
                        self.commit(conn, r, batch)
                    if time.monotonic() >= next_claim:
                        self.claim_all(conn, r)
                        next_claim = time.monotonic() + self.claim_after / 2
                    self.idle(conn, r)
        except redis.RedisError as exc:
            raise _unreachable(self.redis_url, exc) from None

    # Hooks for subclasses.
    def on_connect(self, conn: psycopg.Connection[Row], r: redis.Redis) -> None:
        return None

    def idle(self, conn: psycopg.Connection[Row], r: redis.Redis) -> None:
        return None


def redact_redis(url: str) -> str:
    """redis://:secret@host or redis://user:secret@host -> redis://***@host."""
    return re.sub(r"://[^@/]*@", "://***@", url)


def _unreachable(url: str, exc: Exception) -> SkeneError:
    reason = first_line(exc)
    return SkeneError(f"Redis at {redact_redis(url)}: {reason}",
                      hint="Check that Redis is running and redis.url in skene.yaml is right")
