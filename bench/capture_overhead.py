"""App write overhead of capture (issue 2).

pgbench, 8 clients, single-row INSERT commits into user_actions: uncaptured vs skene's row
trigger (listener idle, and listener running), the statement-level transition-table variant, and
the naive to_jsonb + NOTIFY trigger, interleaved in the same run; plus multi-row statements,
where statement-level triggers could win. `python -m bench.capture_overhead [--seconds 15]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bench.common import BENCH_DIR, cluster, create_db, median, pgbench_latency, pgbench_tps, table
from skene_cdc.config import parse_config
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG, cli_env
from tests.pgcluster import PgCluster

ROOT = BENCH_DIR.parent
INSERT = ("\\set uid random(1, 1000)\n"
          "INSERT INTO user_actions (user_id, action_type) VALUES (:uid, 'click');\n")


# Variants that are not skene's own trigger: installed from bench/sql/ (statement-level on top of
# a migrated database, whose row trigger it replaces; the others on the bare app).
VARIANT_SQL = {"statement": "statement_capture.sql", "naive": "naive_capture.sql",
               "naive_quiet": "naive_capture_quiet.sql", "empty": "empty_trigger.sql"}


def prepare(c: PgCluster, name: str, variant: str, cfg_dir: Path) -> str:
    url = create_db(c, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 1000) g")
    if variant in ("row", "statement"):
        runner.migrate(url, parse_config(DEFAULT_CONFIG, str(cfg_dir / "skene.yaml")))
    if variant in VARIANT_SQL:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute((BENCH_DIR / "sql" / VARIANT_SQL[variant]).read_text())
    return url


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE user_actions")
        if conn.execute("SELECT to_regclass('skene.events')").fetchone() != (None,):
            conn.execute("TRUNCATE skene.events, skene.activity_daily, skene.user_activity")
            conn.execute("UPDATE skene.cursors SET txid = '0', event_id = 0")
        if conn.execute("SELECT to_regclass('naive_events')").fetchone() != (None,):
            conn.execute("TRUNCATE naive_events")
        conn.execute("CHECKPOINT")


def multi_row_seconds(url: str, rows: int, per_statement: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        for _ in range(rows // per_statement):
            conn.execute("INSERT INTO user_actions (user_id, action_type) "
                         "SELECT 1 + g %% 1000, 'bulk' FROM generate_series(1, %s) g",
                         (per_statement,))
        return time.perf_counter() - start


@contextmanager
def listening(variant: str, url: str, cfg_dir: Path) -> Iterator[None]:
    """Run `skene-cdc listen` beside the load for the +listener variant."""
    if variant != "row+listener":
        yield
        return
    listener = subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"],
                                env=cli_env(url, cfg_dir / "skene.yaml"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    try:
        yield
    finally:
        listener.terminate()
        listener.wait(30)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=15, help="pgbench duration per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bulk-rows", type=int, default=200_000)
    ap.add_argument("--rate", type=int, default=1000, help="inserts/s for the latency run")
    args = ap.parse_args(argv)
    variants = {
        "none": "no capture",
        "row": "skene row trigger (listener idle)",
        "row+listener": "skene row trigger + listener running",
        "statement": "statement-level transition-table trigger",
        "naive_quiet": "naive to_jsonb into a 1-index table, no NOTIFY",
        "naive": "naive to_jsonb + pg_notify every tx",
        "empty": "empty PL/pgSQL trigger (floor of any trigger)",
    }
    with cluster() as c:
        cfg_dir = Path(c.datadir.parent)
        (cfg_dir / "skene.yaml").write_text(DEFAULT_CONFIG)
        urls = {v: prepare(c, f"b_{v.replace('+', '_')}", v.split("+")[0], cfg_dir)
                for v in variants}
        tps: dict[str, list[float]] = {v: [] for v in variants}
        for r in range(args.rounds):
            for v in variants:
                reset(urls[v])
                with listening(v, urls[v], cfg_dir):
                    tps[v].append(pgbench_tps(urls[v], INSERT, seconds=args.seconds))
                print(f"round {r + 1}/{args.rounds} {v}: {tps[v][-1]:,.0f} tps", file=sys.stderr)
        base = median(tps["none"])
        rows = [[variants[v], median(tps[v]), median(tps[v]) / base,
                 " / ".join(f"{t:,.0f}" for t in tps[v])] for v in variants]
        print("\nSingle-row INSERT commits, pgbench -c 8 -j 2, "
              f"{args.seconds}s x {args.rounds} rounds, fsync on (median tps)")
        print(table(["capture", "tps", "vs none", "rounds"], rows))
        lat = []
        for v in ("none", "row", "row+listener"):
            reset(urls[v])
            with listening(v, urls[v], cfg_dir):
                avg, sd = pgbench_latency(urls[v], INSERT, rate=args.rate, seconds=args.seconds)
            lat.append([variants[v], avg, sd])
        print(f"\nCommit latency at a steady {args.rate:,} inserts/s (pgbench -R, 8 clients, "
              f"{args.seconds}s; ms)")
        print(table(["capture", "avg ms", "stddev ms"], lat))
        bulk = []
        for v in ("none", "row", "statement"):
            for per in (1, 100, 1000):
                n = args.bulk_rows if per > 1 else args.bulk_rows // 20
                reset(urls[v])
                secs = multi_row_seconds(urls[v], n, per)
                bulk.append([variants[v], per, n, n / secs])
        print("\nOne connection, rows inserted per statement (rows/s)")
        print(table(["capture", "rows/statement", "rows", "rows/s"], bulk))


if __name__ == "__main__":
    main()
