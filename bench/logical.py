"""Logical replication capture (issue 4), side by side in one run, on a durable cluster:

1. Throughput: N rows committed (in transactions of --txn-rows) while nothing reads; then
   `pg_recvlogical` decodes that WAL to /dev/null (the server's own ceiling for one slot), then
   skene's logical capture decodes the same WAL into its queue (where the trigger puts rows;
   the consumer, measured by bench.listener, moves them on). changes/s for both.
2. Latency: a producer commits changes at a steady rate while the listener runs (its own
   process); latency = commit time of the queue row - commit time of the app row, both
   from the server (track_commit_timestamp), so no client clocks are involved.
3. App writes: pgbench, 8 clients, single-row INSERTs, on a database without capture and on the
   logically captured one with the listener running. Alternated, medians.
4. Memory: peak RSS of the listener process capturing one transaction of --big-rows rows.

`python -m bench.logical` (full sizes) or `--quick` (seconds, to check it works).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench.common import cluster, create_db, median, percentile, pgbench_tps, table
from skene_cdc.config import Config, parse_config
from skene_cdc.listener.replication import LogicalCapture
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG
from tests.pgcluster import PgCluster

ROOT = Path(__file__).parent.parent
CONFIG = DEFAULT_CONFIG.replace("capture:\n  poll_interval: 1s",
                                "capture:\n  mode: logical\n  slot: bench_slot\n"
                                "  max_slot_lag: 20GB\n  poll_interval: 1s")
LISTEN = """
import sys, threading, signal
from skene_cdc.config import load_config
from skene_cdc.listener.replication import LogicalCapture
cap = LogicalCapture(sys.argv[1], load_config(sys.argv[2]))
if sys.argv[3] == "drain":
    drained = cap.drain()
    # Its own high-water mark: wait4's ru_maxrss would also count the pages it shared with the
    # bench between fork and exec (tests/test_logical_crash.py reads it the same way).
    status = open("/proc/self/status").read()
    print(drained, next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")))
else:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    cap.run(stop)
"""
PRODUCER = """
import sys, threading, time, psycopg
url, rate, seconds, per_txn, threads = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), \\
    int(sys.argv[4]), 4
start = time.time() + 0.3
def work(k):
    with psycopg.connect(url, autocommit=True) as conn:
        txns = rate / per_txn / threads
        i = 0
        while True:
            due = start + i / txns + k / (txns * threads)
            if due > start + seconds:
                return
            time.sleep(max(0, due - time.time()))
            conn.execute("INSERT INTO user_actions (user_id, action_type) SELECT 1 + g %% 1000, "
                         "'tick' FROM generate_series(1, %s) g", (per_txn,))
            i += 1
ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
"""
PGBENCH = ("\\set uid random(1, 1000)\n"
           "INSERT INTO user_actions (user_id, action_type) VALUES (:uid, 'bench');\n")


def setup(c: PgCluster, name: str, capture: bool) -> tuple[str, Config]:
    url = create_db(c, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 1000) g")
    cfg_path = c.datadir.parent / f"{name}.yaml"
    cfg_path.write_text(CONFIG)
    config = parse_config(CONFIG, str(cfg_path))
    if capture:
        runner.migrate(url, config)
    return url, config


def insert(url: str, rows: int, per_txn: int) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(0, rows, per_txn):
            conn.execute("INSERT INTO user_actions (user_id, action_type) SELECT 1 + g %% 1000, "
                         "'bulk' FROM generate_series(1, %s) g", (min(per_txn, rows - first),))
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def throughput(c: PgCluster, url: str, config: Config, rows: int, per_txn: int
               ) -> tuple[float, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot('bench_recv', 'pgoutput')")
    end = insert(url, rows, per_txn)
    start = time.perf_counter()
    subprocess.run([str(c.bindir / "pg_recvlogical"), "-d", url, "-S", "bench_recv", "--start",
                    "--no-loop", "-E", end, "-f", "/dev/null", "-o", "proto_version=1",
                    "-o", "publication_names=skene_pub"], check=True, capture_output=True)
    recv = rows / (time.perf_counter() - start)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot('bench_recv')")
    start = time.perf_counter()
    done = LogicalCapture(url, config).drain()
    skene = rows / (time.perf_counter() - start)
    assert done == rows, (done, rows)
    return skene, recv


def listener(url: str, config: Config, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", LISTEN, url, config.source, mode], text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(60)


# The queue tables with each row's writer: only capture runs here (no consumer), so rows stay.
QUEUED = ("SELECT xmin, data FROM skene.queue_0 UNION ALL SELECT xmin, data FROM skene.queue_1 "
          "UNION ALL SELECT xmin, data FROM skene.queue_2")


def latency(url: str, config: Config, rate: float, seconds: float, per_txn: int) -> list[float]:
    with psycopg.connect(url, autocommit=True) as conn:
        mark = conn.execute("SELECT coalesce(max(id), 0) FROM user_actions").fetchone()
    assert mark is not None
    proc = listener(url, config, "run")
    try:
        time.sleep(2)
        subprocess.run([sys.executable, "-c", PRODUCER, url, str(rate), str(seconds),
                        str(per_txn)], check=True)
        expected = int(rate * seconds)
        deadline = time.time() + 30
        with psycopg.connect(url, autocommit=True) as conn:
            while time.time() < deadline:
                row = conn.execute(f"SELECT count(*) FROM ({QUEUED}) q "
                                   "WHERE q.data->>'action_type' = 'tick'").fetchone()
                if row and row[0] >= expected * 0.98:
                    break
                time.sleep(0.2)
            time.sleep(1)
            rows = conn.execute(
                f"SELECT extract(epoch FROM pg_xact_commit_timestamp(q.xmin) - "
                f"pg_xact_commit_timestamp(u.xmin)) * 1000 FROM ({QUEUED}) q "
                f"JOIN user_actions u ON u.id = (q.data->>'id')::bigint "
                f"WHERE q.data->>'action_type' = 'tick' AND u.id > %s", (mark[0],)).fetchall()
    finally:
        stop(proc)
    return [float(r[0]) for r in rows]


def app_writes(c: PgCluster, url: str, plain: str, config: Config, seconds: int, repeat: int
               ) -> tuple[float, float, float]:
    """Medians of: no capture; decoding only (pg_recvlogical on its own slot, output discarded:
    the server-side floor of any logical capture); skene's listener running."""
    none, floor, logical = [], [], []
    for _ in range(repeat):
        none.append(pgbench_tps(plain, PGBENCH, clients=8, seconds=seconds))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_create_logical_replication_slot('bench_floor', 'pgoutput')")
        recv = subprocess.Popen([str(c.bindir / "pg_recvlogical"), "-d", url, "-S", "bench_floor",
                                 "--start", "-f", "/dev/null", "-o", "proto_version=1",
                                 "-o", "publication_names=skene_pub"])
        try:
            time.sleep(1)
            floor.append(pgbench_tps(url, PGBENCH, clients=8, seconds=seconds))
        finally:
            stop(recv)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SELECT pg_drop_replication_slot('bench_floor')")
        LogicalCapture(url, config).drain()
        proc = listener(url, config, "run")
        try:
            time.sleep(1)
            logical.append(pgbench_tps(url, PGBENCH, clients=8, seconds=seconds))
        finally:
            stop(proc)
        LogicalCapture(url, config).drain()  # catch up before the next round
    return median(none), median(floor), median(logical)


def peak_rss(url: str, config: Config, rows: int) -> tuple[float, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO user_actions (user_id, action_type) SELECT 1 + g %% 1000, "
                     "'big' FROM generate_series(1, %s) g", (rows,))
    start = time.perf_counter()
    proc = listener(url, config, "drain")
    out, _ = proc.communicate()
    secs = time.perf_counter() - start
    drained, hwm_kb = out.split()
    assert proc.returncode == 0 and int(drained) == rows, out
    return int(hwm_kb) / 1024, rows / secs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=500_000, help="throughput: changes")
    ap.add_argument("--txn-rows", type=int, default=100, help="rows per app transaction")
    ap.add_argument("--rate", type=float, default=5000, help="latency: changes/s")
    ap.add_argument("--seconds", type=float, default=20, help="latency: duration")
    ap.add_argument("--latency-txn-rows", type=int, default=5)
    ap.add_argument("--pgbench-seconds", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=3, help="pgbench rounds (medians)")
    ap.add_argument("--big-rows", type=int, default=1_000_000, help="memory: rows in one txn")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to check the bench runs")
    ap.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.rate, args.seconds, args.pgbench_seconds = 20_000, 500, 3, 3
        args.repeat, args.big_rows = 1, 50_000
    with cluster(track_commit_timestamp="on", max_slot_wal_keep_size="20GB") as c:
        url, config = setup(c, "logical_bench", capture=True)
        plain, _ = setup(c, "plain_bench", capture=False)
        skene, recv = throughput(c, url, config, args.rows, args.txn_rows)
        lat = latency(url, config, args.rate, args.seconds, args.latency_txn_rows)
        none_tps, floor_tps, logical_tps = app_writes(c, url, plain, config, args.pgbench_seconds,
                                           args.repeat)
        rss, big_rate = peak_rss(url, config, args.big_rows)
    print(f"\nCapture throughput: {args.rows:,} changes in transactions of {args.txn_rows} rows "
          "(target: >= 50,000 changes/s and >= 0.5x pg_recvlogical)")
    print(table(["reader", "changes/s", "vs pg_recvlogical"], [
        ["pg_recvlogical, pgoutput to /dev/null", recv, 1.0],
        ["skene logical capture, into its queue", skene, skene / recv]]))
    print(f"\nCommit-to-queue latency at a steady {args.rate:,.0f} changes/s "
          f"({args.latency_txn_rows} per transaction) for {args.seconds:.0f}s, {len(lat):,} "
          "changes (target: p99 <= 100 ms; Sequin 253 ms, Debezium Server 440 ms)")
    print(table(["p50 ms", "p90 ms", "p99 ms", "max ms"], [[
        percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), max(lat or [0.0])]]))
    print(f"\nApp writes: pgbench, 8 clients, single-row INSERT, {args.pgbench_seconds}s x "
          f"{args.repeat}, medians (target: >= 0.95x)")
    print(table(["capture", "tps", "vs none"], [
        ["none", none_tps, 1.0],
        ["decoding only (pg_recvlogical on a slot, the floor)", floor_tps, floor_tps / none_tps],
        ["skene logical (listener running)", logical_tps, logical_tps / none_tps]]))
    print(f"\nListener memory: one transaction of {args.big_rows:,} rows")
    print(table(["peak RSS MB", "changes/s"], [[rss, big_rate]]))
    if args.json:
        print(json.dumps({"throughput": skene, "pg_recvlogical": recv,
                          "latency_p50_ms": percentile(lat, 50),
                          "latency_p99_ms": percentile(lat, 99), "tps_none": none_tps,
                          "tps_floor": floor_tps, "tps_logical": logical_tps, "peak_rss_mb": rss}))


if __name__ == "__main__":
    main()
