"""The Redis meter: windows, check-and-count, plans, and the limit edge under concurrency."""

from __future__ import annotations

import calendar
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from skene_cdc.freemium.gate import Gate
from skene_cdc.freemium.meter import Meter, plan_key
from skene_cdc.freemium.plans import write_plan
from skene_cdc.freemium.rules import UNLIMITED, Rule, build_rules, glob_to_regex
from tests.freemium_support import freemium_config
from tests.pgcluster import RedisServer


def rule(period: int = 86400, free: int = 3, paid: int = UNLIMITED) -> Rule:
    return Rule(loop="freemium", step=0, methods=frozenset({"POST"}), endpoint="/api/*",
                pattern=glob_to_regex("/api/*"), free_limit=free, paid_limit=paid, period=period,
                message="stop", upgrade_url=None, fail_open=True, where="test")


@pytest.fixture
def meter(redis_server: RedisServer) -> Iterator[Meter]:
    m = Meter(redis_server.url, prefix=f"m{random.getrandbits(40)}:")
    yield m
    m.close()


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def month_window(now: datetime, anchor: datetime | None) -> tuple[datetime, datetime]:
    """Reference: Stripe-style monthly windows, clamped to the month's last day."""
    day, tod = (anchor.day, anchor - anchor.replace(hour=0, minute=0, second=0)) if anchor \
        else (1, None)

    def start(y: int, m: int) -> datetime:
        d = min(day, calendar.monthrange(y, m)[1])
        base = datetime(y, m, d, tzinfo=UTC)
        return base + tod if tod else base

    y, m = now.year, now.month
    s = start(y, m)
    if s > now:
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        s = start(y, m)
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    return s, start(ny, nm)


def test_glob_matches_one_segment() -> None:
    p = glob_to_regex("/api/features/*")
    assert p.fullmatch("/api/features/x") and p.fullmatch("/api/features/")
    assert not p.fullmatch("/api/features/x/y") and not p.fullmatch("/api/featuresx")
    assert glob_to_regex("/api/**").fullmatch("/api/a/b/c")


def test_fixed_windows_follow_epoch_or_anchor(meter: Meter) -> None:
    r = rule(period=30 * 86400)
    now = datetime(2024, 5, 17, 12, 0, tzinfo=UTC)
    d = meter.check(r, "u1", "e", now_ms=ms(now))
    assert d.window_start % (30 * 86400) == 0 and d.window_start <= now.timestamp() < d.window_end
    anchor = int(datetime(2024, 5, 3, 8, 30, tzinfo=UTC).timestamp())
    write_plan(meter.redis, meter.prefix, "u2", "free", "active", anchor)
    d = meter.check(r, "u2", "e", now_ms=ms(now))
    assert (d.window_start, d.window_end) == (anchor, anchor + 30 * 86400)
    d = meter.check(r, "u2", "e", now_ms=ms(datetime(2024, 4, 20, tzinfo=UTC)))
    assert d.window_end == anchor  # before the anchor: the previous window


def test_monthly_windows_match_reference(meter: Meter) -> None:
    r = rule(period=0)
    rng = random.Random(7)
    anchors = [None, datetime(2024, 1, 31, 10, 15, tzinfo=UTC), datetime(2023, 2, 28, tzinfo=UTC),
               datetime(2024, 3, 15, 23, 59, 59, tzinfo=UTC)]
    for i, anchor in enumerate(anchors):
        user = f"m{i}"
        if anchor:
            write_plan(meter.redis, meter.prefix, user, "free", None, int(anchor.timestamp()))
        for _ in range(40):
            now = datetime.fromtimestamp(rng.randrange(1_600_000_000, 1_900_000_000), UTC)
            d = meter.check(r, user, "e", now_ms=ms(now))
            start, end = month_window(now, anchor)
            assert (d.window_start, d.window_end) == (int(start.timestamp()),
                                                      int(end.timestamp())), (anchor, now)


def test_counts_then_blocks_and_paid_is_unlimited(meter: Meter) -> None:
    r = rule(free=3)
    got = [meter.check(r, "u", "e") for _ in range(5)]
    assert [d.allowed for d in got] == [True, True, True, False, False]
    assert [d.used for d in got] == [1, 2, 3, 3, 3]
    assert [d.blocked for d in got] == [0, 0, 0, 1, 2]
    write_plan(meter.redis, meter.prefix, "u", "paid", "active", None)
    d = meter.check(r, "u", "e")
    assert d.allowed and d.limit == UNLIMITED and d.used == 4 and d.plan_known
    entries = meter.redis.xrange(meter.stream)
    kinds = [f["k"] for _, f in entries]
    assert kinds == ["u", "u", "u", "b", "b", "u"]


def test_unknown_plan_asks_before_blocking(meter: Meter) -> None:
    r = rule(free=1)
    assert meter.check(r, "x", "e", resolve=True).allowed
    d = meter.check(r, "x", "e", resolve=True)
    assert d.need_plan and not d.allowed and d.blocked == 0
    assert meter.redis.xlen(meter.stream) == 1  # nothing recorded for the undecided request
    write_plan(meter.redis, meter.prefix, "x", "free", None, None, ttl=60)
    d = meter.check(r, "x", "e", resolve=True)
    assert not d.allowed and not d.need_plan and d.blocked == 1
    assert meter.redis.ttl(plan_key(meter.prefix, "x")) > 0


def test_fifty_parallel_requests_at_the_edge(redis_server: RedisServer, tmp_path: Path) -> None:
    """97 used of 100; 50 threads at once: exactly 3 get through, 47 are refused."""
    cfg = freemium_config(tmp_path, redis_server.url)
    gate = Gate(build_rules(cfg), Meter(redis_server.url, prefix=cfg.redis.key_prefix
                                        if cfg.redis else ""))
    for _ in range(97):
        assert gate.check("edge", "POST", "/api/features/x") is None
    barrier = threading.Barrier(50)
    results: list[int] = []
    lock = threading.Lock()

    def hit() -> None:
        barrier.wait()
        v = gate.check("edge", "POST", "/api/features/x")
        with lock:
            results.append(200 if v is None else v.status)

    threads = [threading.Thread(target=hit) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results).count(200) == 3 and results.count(402) == 47
    gate.close()


def test_redis_errors_are_not_swallowed_by_meter(meter: Meter) -> None:
    bad = Meter("redis://127.0.0.1:1/0", timeout=0.2)
    with pytest.raises(redis.ConnectionError):
        bad.check(rule(), "u", "e")
