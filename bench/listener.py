"""Listener throughput and commit-to-handler latency (issue 2).

Throughput: N activity rows are committed while no listener runs, then the listener drains them
with its real handlers; next to it, the same batches read with no handlers (the ceiling).
Latency: a producer process commits single-row inserts at a steady rate; the listener runs with a
probe handler that notes when each row reaches the handlers. Latency = handler time - commit
time (same machine clock). `python -m bench.listener [--rows 100000] [--rate 1000]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

from bench.common import cluster, create_db, percentile, table
from skene_cdc.config import parse_config
from skene_cdc.db import Row
from skene_cdc.handlers import build_handlers
from skene_cdc.handlers.base import Event
from skene_cdc.listener.consumer import EventConsumer
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG

ROOT = Path(__file__).parent.parent

PRODUCER = """
import json, sys, threading, time, psycopg
url, rate, seconds, threads = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), 4
out, lock = [], threading.Lock()
start = time.time() + 0.5
def work(k):
    with psycopg.connect(url, autocommit=True) as conn:
        per = rate / threads
        i = 0
        while True:
            due = start + i / per + k / rate
            if due > start + seconds:
                return
            time.sleep(max(0, due - time.time()))
            row = conn.execute("INSERT INTO user_actions (user_id, action_type) "
                               "VALUES (1 + %s %% 1000, 'tick') RETURNING id", (i,)).fetchone()
            t = time.time()
            with lock:
                out.append((row[0], t))
            i += 1
ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
json.dump(out, sys.stdout)
"""


class Probe:
    name = "probe"

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}

    def handle(self, conn: psycopg.Connection[Row], events: Sequence[Event]) -> None:
        now = time.time()
        for e in events:
            if e.data and e.table_name == "public.user_actions":
                self.seen.setdefault(int(e.data["id"]), now)


def setup(url: str, cfg_dir: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 1000) g")
    runner.migrate(url, parse_config(DEFAULT_CONFIG, str(cfg_dir / "skene.yaml")))


def throughput(url: str, rows: int, handlers: bool) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE skene.events, skene.activity_daily, skene.user_activity")
        conn.execute("UPDATE skene.cursors SET txid = '0', event_id = 0, processed = 0")
        for _ in range(rows // 10_000):
            conn.execute("INSERT INTO user_actions (user_id, action_type) "
                         "SELECT 1 + g % 1000, 'bulk' FROM generate_series(1, 10000) g")
    config = parse_config(DEFAULT_CONFIG, "skene.yaml")
    consumer = EventConsumer(url, build_handlers(config) if handlers else [], batch_size=5000)
    start = time.perf_counter()
    n = consumer.drain()
    secs = time.perf_counter() - start
    assert n == rows, (n, rows)
    return rows / secs


def latency(url: str, rate: float, seconds: float) -> tuple[list[float], int]:
    config = parse_config(DEFAULT_CONFIG, "skene.yaml")
    probe = Probe()
    consumer = EventConsumer(url, [*build_handlers(config), probe],
                             batch_size=config.capture.batch_size)
    consumer.drain()
    stop = threading.Event()
    t = threading.Thread(target=consumer.run, args=(stop,))
    t.start()
    try:
        time.sleep(2)  # let it go idle, so the first rows also test the wake-up path
        proc = subprocess.run([sys.executable, "-c", PRODUCER, url, str(rate), str(seconds)],
                              capture_output=True, text=True, check=True)
        committed = json.loads(proc.stdout)
        deadline = time.time() + 10
        while time.time() < deadline and any(i not in probe.seen for i, _ in committed):
            time.sleep(0.05)
    finally:
        stop.set()
        t.join()
    lat = [(probe.seen[i] - c) * 1000 for i, c in committed if i in probe.seen]
    return lat, len(committed) - len(lat)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args(argv)
    with cluster() as c:
        cfg_dir = c.datadir.parent
        (cfg_dir / "skene.yaml").write_text(DEFAULT_CONFIG)
        url = create_db(c, "listener_bench")
        setup(url, cfg_dir)
        raw = throughput(url, args.rows, handlers=False)
        full = throughput(url, args.rows, handlers=True)
        print(f"\nListener throughput, {args.rows:,} committed events drained (events/s)")
        print(table(["consumer", "events/s"], [
            ["skene listener, real handlers (activity rollup)", full],
            ["same batches, no handlers (read + checkpoint ceiling)", raw]]))
        lat, missing = latency(url, args.rate, args.seconds)
        print(f"\nCommit-to-handler latency at a steady {args.rate:,.0f} inserts/s for "
              f"{args.seconds:.0f}s ({len(lat):,} events, {missing} not seen)")
        print(table(["p50 ms", "p90 ms", "p99 ms", "max ms"], [[
            percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), max(lat or [0])]]))


if __name__ == "__main__":
    main()
