"""Retention evaluation at scale: one scheduled `dormant` run of the loop engine next to the
naive GROUP BY over the raw activity table, in the same run, on the same data.

    python -m bench.retention [--users 1000000] [--rows 20000000]

Starts a throwaway PostgreSQL (or uses --database-url, creating a scratch database in it),
builds the data with generate_series, then times (best of --repeat, each rolled back):
  naive          SELECT user_id FROM user_actions GROUP BY user_id HAVING max(ts) < now() - 7d
  decide (cold)  the engine's dormant condition, first run ever: every dormant user is new
  decide         the same on a steady day: earlier spells already have their enrolments
  firing         a whole scheduled firing on that day: decide, enrol, enqueue into the outbox
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from skene_cdc.config import parse_config
from skene_cdc.db import Row, connect
from skene_cdc.handlers.loops.conditions import evaluate
from skene_cdc.handlers.loops.engine import run_step
from skene_cdc.handlers.loops.plan import StepPlan, require_plans
from skene_cdc.migrations import runner
from skene_cdc.progress import progress

HERE = Path(__file__).parent
ROOT = HERE.parent

CONFIG = """\
version: 1
app:
  users: {table: public.users, id: id, email: email, name: name, created_at: created_at}
  activity:
    - {table: public.user_actions, user_id: user_id, timestamp: created_at, event: action_type}
email: {provider: console}
loops:
  - name: retention
    type: retention
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: dormant, days: 7}
        action: {type: email, template: re_engagement}
"""


def load(name: str) -> str:
    return (HERE / "sql" / f"{name}.sql").read_text()


def run_script(conn: psycopg.Connection[Row], name: str, params: dict[str, int]) -> None:
    statements = [s for s in load(name).split(";\n")
                  if s.strip() and not all(line.startswith("--") or not line.strip()
                                           for line in s.splitlines())]
    with progress(name, len(statements), unit="statements") as bar:
        for statement in statements:
            conn.execute(statement, params)
            bar.advance()
    conn.commit()


def timed(conn: psycopg.Connection[Row], repeat: int,
          body: Callable[[psycopg.Connection[Row]], int]) -> tuple[float, int]:
    """Best wall time of `repeat` runs of body, each in a transaction that is rolled back."""
    times, result = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = body(conn)
        times.append(time.perf_counter() - start)
        conn.rollback()
    return min(times), result


def build(url: str, users: int, rows: int) -> tuple[float, StepPlan]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "skene.yaml"
        path.write_text(CONFIG)
        config = parse_config(CONFIG, str(path))
        with connect(url, autocommit=True) as conn:
            conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        runner.migrate(url, config)
    [plan] = require_plans(config)
    start = time.perf_counter()
    with connect(url) as conn:
        run_script(conn, "retention_build", {"users": users, "rows": rows})
        conn.autocommit = True
        with progress("VACUUM ANALYZE", 1, unit="statements") as bar:
            conn.execute("VACUUM ANALYZE")
            bar.advance()
    return time.perf_counter() - start, plan


def measure(url: str, plan: StepPlan, repeat: int) -> list[tuple[str, float, int, str]]:
    config = parse_config(CONFIG)
    out: list[tuple[str, float, int, str]] = []
    with connect(url) as conn, progress("timing", 4, unit="cases") as bar:
        secs, n = timed(conn, repeat, lambda c: len(c.execute(load("naive_dormant")).fetchall()))
        out.append(("naive GROUP BY over raw activity", secs, n, "dormant users"))
        bar.advance()
        secs, n = timed(conn, repeat, lambda c: len(evaluate(c, plan, None).candidates))
        out.append(("engine decide, first run (cold)", secs, n, "users to email"))
        bar.advance()
        run_script(conn, "retention_history", {})
        conn.execute("ANALYZE skene.enrolments")
        conn.commit()
        secs, n = timed(conn, repeat, lambda c: len(evaluate(c, plan, None).candidates))
        out.append(("engine decide, steady day", secs, n, "users to email"))
        bar.advance()
        secs, n = timed(conn, repeat, lambda c: run_step(c, config, plan).enqueued)
        out.append(("engine firing, steady day (decide+enqueue)", secs, n, "emails enqueued"))
        bar.advance()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    # The sizes; --users 10000 --rows 200000 checks the harness in seconds.
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--database-url", help="use this server (a scratch database is created)")
    args = ap.parse_args(argv)

    cluster = None
    if args.database_url:
        base = args.database_url
    else:
        from tests.pgcluster import PgCluster

        cluster = PgCluster.start(extra={"max_wal_size": "8GB", "work_mem": "64MB"})
        base = cluster.url()
    scratch = f"bench_retention_{int(time.time())}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    url = base.rsplit("/", 1)[0] + "/" + scratch
    try:
        build_secs, plan = build(url, args.users, args.rows)
        results = measure(url, plan, args.repeat)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        if cluster:
            cluster.stop("immediate")
    print(f"\nretention evaluation: {args.users:,} users, {args.rows:,} activity rows "
          f"(data built in {build_secs:.1f}s; best of {args.repeat}, each rolled back)\n")
    naive = results[0][1]
    print(f"{'case':<44} {'seconds':>9} {'vs naive':>9} {'result':>10}")
    print("-" * 76)
    for name, secs, n, what in results:
        print(f"{name:<44} {secs:>9.3f} {naive / secs if secs else 0:>8.1f}x {n:>10,} {what}")
    if results[0][2] != results[1][2]:
        print(f"WARNING: the engine found {results[1][2]} dormant users, the naive query "
              f"{results[0][2]}: they should agree")


if __name__ == "__main__":
    main()
