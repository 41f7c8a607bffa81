"""The ASGI hot path: EVALSHA over one asyncio connection, auto-pipelined.

redis-py's asyncio client costs ~100 µs of CPU per command, more than a small FastAPI endpoint
itself. This client only runs the meter script: requests that call it in the same event-loop
iteration share one write and one read, replies are matched in order, and a command is a few
byte joins. Anything unusual (TLS, unix sockets) uses redis-py instead (Meter decides).

Errors are redis-py's (ConnectionError, TimeoutError, ResponseError), so the gate's fail policy
treats both clients alike. A lost connection fails the commands in flight; the next call
reconnects."""

from __future__ import annotations

import asyncio
import collections
from typing import Any
from urllib.parse import unquote, urlparse

import redis


def supported(url: str) -> bool:
    return urlparse(url).scheme == "redis"


def encode(*parts: bytes | str | int) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        b = p if isinstance(p, bytes) else str(p).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _Incomplete(Exception):
    pass


def parse(buf: bytes, pos: int) -> tuple[Any, int]:
    """One RESP2 reply from buf[pos:]; raises _Incomplete when it has not all arrived."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind, line = buf[pos:pos + 1], buf[pos + 1:end]
    pos = end + 2
    if kind == b":":
        return int(line), pos
    if kind == b"+":
        return line.decode(), pos
    if kind == b"-":
        return redis.ResponseError(line.decode(errors="replace")), pos
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise _Incomplete
        return buf[pos:pos + n].decode(errors="replace"), pos + n + 2
    if kind == b"*":
        n = int(line)
        items = []
        for _ in range(max(n, 0)):
            item, pos = parse(buf, pos)
            items.append(item)
        return (items if n >= 0 else None), pos
    raise redis.ConnectionError(f"unexpected reply from Redis: {buf[pos - 2 - len(line) - 1:][:40]!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.buf = b""
        self.out: list[bytes] = []
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, command: bytes) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.lost is not None or self.transport is None:
            fut.set_exception(redis.ConnectionError(f"Redis connection lost: {self.lost}"))
            return fut
        if not self.out:
            # Everything sent during this loop iteration goes out in one write.
            asyncio.get_running_loop().call_soon(self._flush)
        self.out.append(command)
        self.waiting.append(fut)
        return fut

    def _flush(self) -> None:
        if self.out and self.transport is not None and self.lost is None:
            self.transport.write(b"".join(self.out))
        self.out = []

    def data_received(self, data: bytes) -> None:
        self.buf += data
        pos = 0
        try:
            while pos < len(self.buf):
                reply, pos = parse(self.buf, pos)
                fut = self.waiting.popleft()
                if not fut.done():  # a caller that timed out has gone
                    if isinstance(reply, Exception):
                        fut.set_exception(reply)
                    else:
                        fut.set_result(reply)
        except _Incomplete:
            pass
        except (ValueError, IndexError, redis.ConnectionError) as exc:
            self._fail(redis.ConnectionError(f"bad reply from Redis: {exc}"))
            if self.transport is not None:
                self.transport.close()
            return
        self.buf = self.buf[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(redis.ConnectionError(f"Redis closed the connection ({exc or 'EOF'})"))

    def _fail(self, exc: Exception) -> None:
        self.lost = exc
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(exc)


def _expire(fut: asyncio.Future[Any], timeout: float) -> None:
    if not fut.done():
        fut.set_exception(redis.TimeoutError(f"Redis did not answer within {timeout:g}s"))


class PipelinedScript:
    """Run one Lua script by SHA (EVAL on NOSCRIPT) on one auto-pipelined connection.
    Belongs to the event loop that first used it."""

    def __init__(self, url: str, script: str, sha: str, timeout: float) -> None:
        u = urlparse(url)
        self.host, self.port = u.hostname or "localhost", u.port or 6379
        self.username = unquote(u.username) if u.username else None
        self.password = unquote(u.password) if u.password else None
        self.db = int(u.path.lstrip("/") or 0)
        self.script, self.sha, self.timeout = script.encode(), sha.encode(), timeout
        self.proto: _Protocol | None = None
        self.connecting: asyncio.Lock | None = None

    async def _connection(self) -> _Protocol:
        proto = self.proto
        if proto is not None and proto.lost is None:
            return proto
        if self.connecting is None:
            self.connecting = asyncio.Lock()
        async with self.connecting:
            if self.proto is not None and self.proto.lost is None:
                return self.proto
            loop = asyncio.get_running_loop()
            try:
                _, fresh = await asyncio.wait_for(
                    loop.create_connection(_Protocol, self.host, self.port), self.timeout)
            except (TimeoutError, OSError) as exc:
                raise redis.ConnectionError(f"cannot connect to Redis at {self.host}:"
                                            f"{self.port}: {exc or type(exc).__name__}") from None
            setup = []
            if self.password is not None:
                setup.append(encode(b"AUTH", *([self.username] if self.username else []),
                                    self.password))
            if self.db:
                setup.append(encode(b"SELECT", self.db))
            try:
                for command in setup:
                    await self._await(fresh.send(command))
            except redis.RedisError:
                if fresh.transport is not None:
                    fresh.transport.close()
                raise
            self.proto = fresh
            return fresh

    async def _await(self, fut: asyncio.Future[Any]) -> Any:
        # Cheaper than asyncio.wait_for; the reply reader skips a future that has expired.
        handle = asyncio.get_running_loop().call_later(self.timeout, _expire, fut, self.timeout)
        try:
            return await fut
        finally:
            handle.cancel()

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        proto = await self._connection()
        tail = [len(keys), *keys, *args]
        try:
            return await self._await(proto.send(encode(b"EVALSHA", self.sha, *tail)))
        except redis.ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        # EVAL also caches the script, so the next EVALSHA finds it.
        return await self._await(proto.send(encode(b"EVAL", self.script, *tail)))

    def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
