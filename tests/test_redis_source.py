"""Redis Streams as a capture source: consumer group, XACK after commit, dead consumers' pending
entries claimed, and a listener killed with SIGKILL mid-stream loses and repeats nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

from skene_cdc.config.models import RedisStream
from skene_cdc.streams.consumer import StreamConsumer
from skene_cdc.streams.source import RedisSourceSink, parse_time
from tests.conftest import DEFAULT_CONFIG, cli_env, consume, run_cli, scalar, write_config
from tests.freemium_support import rows
from tests.pgcluster import RedisServer

N = 10_000


def stream_config(redis_url: str, stream: str, batch: int = 100) -> str:
    return DEFAULT_CONFIG + f"""\
redis:
  url: {redis_url}
  batch_size: {batch}
  claim_after: 1s
  streams:
    - {{stream: {stream}, user_id: user_id, event: type, timestamp: ts}}
"""


def fill(r: redis.Redis, stream: str, n: int) -> list[str]:
    ids: list[str] = []
    base = int(time.time() * 1000) - n
    for start in range(0, n, 1000):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(start + 1000, n)):
            pipe.xadd(stream, {"user_id": str(i % 50), "type": "page_view" if i % 3 else "export",
                               "ts": str(base + i), "n": str(i)})
        ids.extend(pipe.execute())
    return ids


def test_parse_time() -> None:
    t = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_time(str(int(t.timestamp()))) == t
    assert parse_time(str(int(t.timestamp() * 1000))) == t
    assert parse_time("2024-05-01T12:00:00Z") == t
    assert parse_time("2024-05-01T12:00:00") == t
    assert parse_time("soon") is None and parse_time("") is None


def test_dead_consumers_pending_entries_are_claimed(db_url: str, redis_server: RedisServer
                                                    ) -> None:
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    stream = f"s{uuid.uuid4().hex[:8]}"
    ids = fill(r, stream, 300)
    spec = RedisStream(stream=stream, user_id="user_id", event="type", timestamp="ts")

    def consumer(name: str) -> StreamConsumer:
        return StreamConsumer(name="t", url=db_url, redis_url=redis_server.url, stream=stream,
                              group="skene", sink=RedisSourceSink(spec), consumer=name,
                              batch_size=100, claim_after=0.2)

    dead = consumer("dead")
    dead.ensure_group(r)
    taken = dead.read_new(r, None)  # delivered to "dead", which never stores or acks them
    assert len(taken) == 100
    alive = consumer("alive")
    deadline = time.monotonic() + 30
    while scalar(db_url, "SELECT count(*) FROM skene.external_events "
                         "WHERE source = 'redis'") < 300:
        assert time.monotonic() < deadline, "pending entries were never claimed"
        alive.drain()
        time.sleep(0.1)
    consume(db_url)
    got = [x for (x,) in rows(db_url, "SELECT external_id FROM skene.events "
                                      "WHERE source = 'redis' ORDER BY id")]
    assert sorted(got) == sorted(f"{stream}:{i}" for i in ids)
    assert r.xpending(stream, "skene")["pending"] == 0
    event = rows(db_url, "SELECT user_id, event, table_name, data->>'n', activity "
                         "FROM skene.events WHERE external_id = %s", (f"{stream}:{ids[4]}",))
    assert event == [("4", "page_view", f"redis:{stream}", "4", True)]


def test_listener_killed_mid_stream_loses_and_repeats_nothing(
        db_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    stream = f"s{uuid.uuid4().hex[:8]}"
    ids = fill(r, stream, N)
    write_config(tmp_path, stream_config(redis_server.url, stream, batch=50))
    cfg = tmp_path / "skene.yaml"
    count = "SELECT count(*) FROM skene.external_events WHERE source = 'redis'"
    proc = subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"], env=cli_env(db_url, cfg),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(db_url, autocommit=True) as conn:
            while (seen := conn.execute(count).fetchone()[0]) < 1000:  # type: ignore[index]
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "listener made no progress"
                time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    at_kill = scalar(db_url, count)
    assert seen <= at_kill < N, f"the kill did not land mid-stream ({at_kill} of {N})"
    out = run_cli("listen", "--once", url=db_url, config_path=cfg)
    assert f"redis:{stream}:" in out.stdout
    got = [x for (x,) in rows(db_url, "SELECT external_id FROM skene.events "
                                      "WHERE source = 'redis'")]
    assert len(got) == N and set(got) == {f"{stream}:{i}" for i in ids}
    assert r.xpending(stream, "skene")["pending"] == 0
    # The activity rollup saw every entry once.
    assert scalar(db_url, "SELECT sum(n) FROM skene.activity_daily") == N
