"""The ASGI hot path's pipelined Redis client: concurrency at the limit edge, NOSCRIPT, AUTH and
database selection, a paused Redis (timeouts, then replies stay matched to their requests)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest
import redis

from skene_cdc.freemium.fastpath import PipelinedScript, encode, parse
from skene_cdc.freemium.meter import Meter
from skene_cdc.freemium.rules import Rule, glob_to_regex
from tests.pgcluster import RedisServer


def rule(free: int) -> Rule:
    return Rule(loop="l", step=0, methods=None, endpoint="/x", pattern=glob_to_regex("/x"),
                free_limit=free, paid_limit=-1, period=86400, message="m", upgrade_url=None,
                fail_open=True, where="t")


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer.start()
    try:
        yield server
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()


def test_resp_codec() -> None:
    assert encode(b"GET", "k", 5) == b"*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\n5\r\n"
    buf = b"*3\r\n:1\r\n$2\r\nhi\r\n*-1\r\n+OK\r\n-ERR no\r\n"
    first, pos = parse(buf, 0)
    assert first == [1, "hi", None]
    ok, pos = parse(buf, pos)
    err, pos = parse(buf, pos)
    assert ok == "OK" and isinstance(err, redis.ResponseError) and pos == len(buf)


def test_fifty_concurrent_async_checks_at_the_edge(redis_server: RedisServer) -> None:
    meter = Meter(redis_server.url, prefix="fp1:")
    r = rule(free=100)
    for _ in range(97):
        meter.check(r, "edge", "e")

    async def burst() -> list[bool]:
        got = await asyncio.gather(*(meter.acheck(r, "edge", "e") for _ in range(50)))
        return [d.allowed for d in got]

    allowed = asyncio.run(burst())
    assert allowed.count(True) == 3 and allowed.count(False) == 47
    assert meter.used(r, "edge", meter.check(r, "edge", "e").window_start) == 100


def test_noscript_auth_and_database(private_redis: RedisServer) -> None:
    admin = redis.Redis.from_url(private_redis.url)
    admin.config_set("requirepass", "s3cret")
    url = f"redis://:s3cret@127.0.0.1:{private_redis.port}/5"
    meter = Meter(url, prefix="fp2:")

    async def run() -> list[int]:
        first = await meter.acheck(rule(10), "u", "e")
        redis.Redis.from_url(url).script_flush()
        second = await meter.acheck(rule(10), "u", "e")  # NOSCRIPT -> EVAL
        return [first.used, second.used]

    assert asyncio.run(run()) == [1, 2]
    assert redis.Redis.from_url(url).xlen("fp2:usage") == 2
    bad = Meter(f"redis://:wrong@127.0.0.1:{private_redis.port}/0", prefix="fp2:")
    with pytest.raises(redis.RedisError):
        asyncio.run(bad.acheck(rule(10), "u", "e"))


def test_paused_redis_times_out_then_replies_stay_in_order(private_redis: RedisServer) -> None:
    meter = Meter(private_redis.url, prefix="fp3:", timeout=0.3)

    async def run() -> list[object]:
        out: list[object] = [(await meter.acheck(rule(100), "u", "e")).used]
        os.kill(private_redis.proc.pid, signal.SIGSTOP)
        try:
            await meter.acheck(rule(100), "u", "e")
        except redis.TimeoutError:
            out.append("timeout")
        os.kill(private_redis.proc.pid, signal.SIGCONT)
        # The paused request still ran when Redis woke; its late reply must not be handed to
        # the next caller.
        out.append((await meter.acheck(rule(100), "u", "e")).used)
        out.append((await meter.acheck(rule(100), "u", "e")).used)
        return out

    assert asyncio.run(run()) == [1, "timeout", 3, 4]
    script = PipelinedScript(private_redis.url, "return 1", "0" * 40, 0.3)
    assert asyncio.run(script([], [])) == 1
