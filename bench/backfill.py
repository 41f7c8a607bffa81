"""Backfill throughput: importing an activity table's existing rows into skene.events.

Side by side in one run, each on a fresh copy of the same database (a fifth of the rows belong
to one power user): batch sizes 1,000 / 5,000 / 20,000 (keyset batches, the capture-start
visibility test per row, position committed per batch), and the floor — one `INSERT ... SELECT`
of the whole table with no batching, no boundary and no resumability.

`python -m bench.backfill [--rows 200000]`
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psycopg

from bench.common import cluster, create_db
from skene_cdc import backfill
from skene_cdc.config import parse_config
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG
from tests.pgcluster import PgCluster

ROOT = Path(__file__).resolve().parent.parent

# Into the queue, as backfill writes (the listener moves both into the history later); the table
# is the one this transaction's id names, like every queue writer's.
FLOOR = """
DO $floor$
BEGIN
    EXECUTE format('INSERT INTO skene.%I (tbl, op, data, meta) '
                   'SELECT %L::regclass, ''insert'', to_json(t), '
                   'jsonb_build_object(''external_id'', ''backfill:'' || t.id, ''activity'', true) '
                   'FROM user_actions t',
                   'queue_' || skene.queue_part(pg_current_xact_id()), 'public.user_actions');
END
$floor$
"""
COUNT_QUEUE = "SELECT count(*) FROM skene.queue"


def build_template(c: PgCluster, rows: int) -> None:
    url = create_db(c, "bench_backfill_tpl")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 5000) g")
        # History from before capture; a fifth of it by one power user.
        conn.execute("INSERT INTO user_actions (user_id, action_type, created_at) "
                     "SELECT CASE WHEN g %% 5 = 0 THEN 1 ELSE 1 + g %% 5000 END, "
                     "'a' || g %% 20, now() - g * interval '1 minute' "
                     "FROM generate_series(1, %s) g", (rows,))
    with tempfile.TemporaryDirectory() as d:
        runner.migrate(url, parse_config(DEFAULT_CONFIG, str(Path(d) / "skene.yaml")))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def fresh(c: PgCluster, name: str) -> str:
    return create_db(c, name, template="bench_backfill_tpl")


def timed_backfill(url: str, batch: int) -> tuple[float, int]:
    start = time.perf_counter()
    results = backfill.backfill(url, batch_size=batch, interactive=False)
    return time.perf_counter() - start, sum(r.inserted for r in results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    with cluster() as c:
        build_template(c, args.rows)
        results: list[tuple[str, float, int]] = []
        for batch in (1000, 5000, 20000):
            url = fresh(c, f"bench_b{batch}")
            secs, n = timed_backfill(url, batch)
            results.append((f"backfill, batch {batch:,}", secs, n))
        url = fresh(c, "bench_floor")
        with psycopg.connect(url, autocommit=True) as conn:
            start = time.perf_counter()
            conn.execute(FLOOR)
            secs = time.perf_counter() - start
            row = conn.execute(COUNT_QUEUE).fetchone()
        results.append(("floor: one INSERT ... SELECT (no batches, no dedupe)", secs,
                        row[0] if row else 0))
    print(f"{args.rows:,} pre-existing rows in user_actions\n")
    print(f"| {'variant':<52} | {'seconds':>8} | {'events':>9} | {'rows/s':>9} |")
    print(f"| {'-' * 52} | {'-' * 8}: | {'-' * 9}: | {'-' * 9}: |")
    for label, secs, n in results:
        print(f"| {label:<52} | {secs:8.2f} | {n:9,} | {args.rows / secs:9,.0f} |")


if __name__ == "__main__":
    main()
