"""App write overhead of capture (issue 12, goal 1).

pgbench, 8 clients, fsync on, on the write path skene installs today: the statement-level
trigger (transition tables) appending to the rotating queue tables, and logical capture (pgoutput
decoded by the listener into the same queue). Interleaved in each round:

- single-row INSERT commits: no capture; trigger with the listener idle; trigger with
  `skene-cdc listen` running; logical with `skene-cdc listen` running; pg_recvlogical alone on a
  slot of the same publication (the floor of any logical capture); an empty statement-level
  trigger with a transition table (the floor of skene's trigger shape); naive to_jsonb row
  triggers into a 1-index table (with and without NOTIFY), for reference;
- 1000-row INSERT statements (8 clients): no capture, trigger (idle and running), logical.

Between runs the captured databases are drained with `skene-cdc listen --once` and their history
emptied, so every round starts alike. Then commit latency at a steady rate.
`python -m bench.capture_overhead [--seconds 15] [--rounds 3]`.
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
BULK = ("INSERT INTO user_actions (user_id, action_type) "
        "SELECT 1 + g % 1000, 'bulk' FROM generate_series(1, 1000) g;\n")
LOGICAL_CONFIG = DEFAULT_CONFIG.replace("capture:\n  poll_interval: 1s",
                                        "capture:\n  mode: logical\n  slot: bench_overhead\n"
                                        "  max_slot_lag: 20GB\n  poll_interval: 1s")

# variant -> (database, what runs beside pgbench, label). Variants sharing a database share its
# capture: "trigger" and "trigger+listener" are the same install, with and without `listen`.
VARIANTS = {
    "none": ("none", "", "no capture"),
    "trigger": ("trigger", "", "skene trigger (statement-level, queue), listener idle"),
    "trigger+listener": ("trigger", "listen", "skene trigger + listener running"),
    "logical+listener": ("logical", "listen", "skene logical + listener running"),
    "recvlogical": ("logical", "recvlogical", "pg_recvlogical alone (floor of logical)"),
    "empty": ("empty", "", "empty statement trigger + transition table (floor)"),
    "naive_quiet": ("naive_quiet", "", "naive to_jsonb row trigger, 1-index table"),
    "naive": ("naive", "", "naive to_jsonb row trigger + pg_notify"),
}
BULK_VARIANTS = ["none", "trigger", "trigger+listener", "logical+listener"]
LATENCY_VARIANTS = ["none", "trigger", "trigger+listener", "logical+listener"]
# Bench-only triggers, installed from bench/sql/ on the bare app.
VARIANT_SQL = {"naive": "naive_capture.sql", "naive_quiet": "naive_capture_quiet.sql",
               "empty": "empty_trigger.sql"}


def prepare(c: PgCluster, db: str, cfg_dir: Path) -> tuple[str, Path | None]:
    url = create_db(c, f"b_{db}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 1000) g")
    cfg = None
    if db in ("trigger", "logical"):
        cfg = cfg_dir / f"{db}.yaml"
        text = LOGICAL_CONFIG if db == "logical" else DEFAULT_CONFIG
        cfg.write_text(text)
        runner.migrate(url, parse_config(text, str(cfg)))
    if db in VARIANT_SQL:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute((BENCH_DIR / "sql" / VARIANT_SQL[db]).read_text())
    return url, cfg


def reset(url: str, cfg: Path | None) -> None:
    """Drain what capture queued (the real listener, once), then empty the app table and the
    history, so each run starts from the same state."""
    if cfg is not None:
        subprocess.run([sys.executable, "-m", "skene_cdc", "listen", "--once"],
                       env=cli_env(url, cfg), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE user_actions")
        if cfg is not None:
            conn.execute("TRUNCATE skene.events, skene.activity_daily, skene.user_activity, "
                         "skene.user_events")
        if conn.execute("SELECT to_regclass('naive_events')").fetchone() != (None,):
            conn.execute("TRUNCATE naive_events")
        conn.execute("CHECKPOINT")


@contextmanager
def beside(c: PgCluster, what: str, url: str, cfg: Path | None) -> Iterator[None]:
    """Run `skene-cdc listen`, or pg_recvlogical on a slot of its own, beside the load."""
    if what == "listen":
        assert cfg is not None
        proc = subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"],
                                env=cli_env(url, cfg), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    elif what == "recvlogical":
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_create_logical_replication_slot('bench_floor', 'pgoutput')")
        proc = subprocess.Popen([str(c.bindir / "pg_recvlogical"), "-d", url, "-S",
                                 "bench_floor", "--start", "-f", "/dev/null",
                                 "-o", "proto_version=1", "-o", "publication_names=skene_pub"])
    else:
        yield
        return
    time.sleep(2)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(60)
        if what == "recvlogical":
            with psycopg.connect(url, autocommit=True) as conn:
                for _ in range(100):  # the walsender outlives its client by a moment
                    if conn.execute("SELECT count(*) FROM pg_replication_slots WHERE "
                                    "slot_name = 'bench_floor' AND active").fetchone() == (0,):
                        break
                    time.sleep(0.05)
                conn.execute("SELECT pg_drop_replication_slot('bench_floor')")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=15, help="pgbench duration per run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=int, default=1000, help="inserts/s for the latency run")
    args = ap.parse_args(argv)
    with cluster() as c:
        cfg_dir = Path(c.datadir.parent)
        dbs = {db: prepare(c, db, cfg_dir) for db, _, _ in VARIANTS.values()}

        behind: dict[tuple[str, str], list[float]] = {}

        def run(v: str, script: str) -> float:
            """tps; with the listener running, also notes the share of the run's rows it had
            not handled yet when pgbench stopped (a listener that falls behind defers the cost
            rather than paying it)."""
            db, what, _ = VARIANTS[v]
            url, cfg = dbs[db]
            reset(url, cfg)
            with beside(c, what, url, cfg):
                tps = pgbench_tps(url, script, seconds=args.seconds)
                if what == "listen":
                    with psycopg.connect(url, autocommit=True) as conn:
                        row = conn.execute(
                            "SELECT (SELECT count(*) FROM user_actions), (SELECT count(*) FROM "
                            "skene.events WHERE table_name = 'public.user_actions' "
                            "AND op = 'insert')").fetchone()
                    assert row is not None
                    behind.setdefault((v, script), []).append(1 - row[1] / max(row[0], 1))
            return tps

        def lag(v: str, script: str) -> str:
            shares = behind.get((v, script))
            return f"{median(shares):.0%}" if shares else ""

        tps: dict[str, list[float]] = {v: [] for v in VARIANTS}
        bulk: dict[str, list[float]] = {v: [] for v in BULK_VARIANTS}
        for r in range(args.rounds):
            for v in VARIANTS:
                tps[v].append(run(v, INSERT))
                print(f"round {r + 1}/{args.rounds} {v}: {tps[v][-1]:,.0f} tps", file=sys.stderr)
            for v in BULK_VARIANTS:
                bulk[v].append(run(v, BULK) * 1000)
                print(f"round {r + 1}/{args.rounds} bulk {v}: {bulk[v][-1]:,.0f} rows/s",
                      file=sys.stderr)
        base = median(tps["none"])
        print("\nSingle-row INSERT commits, pgbench -c 8 -j 2, "
              f"{args.seconds}s x {args.rounds} rounds, fsync on (median tps; targets: trigger "
              ">= 0.90x idle, >= 0.75x with the listener; logical >= 0.75x)")
        print(table(["capture", "tps", "vs none", "rounds", "not yet handled at the end"], [
            [VARIANTS[v][2], median(tps[v]), median(tps[v]) / base,
             " / ".join(f"{t:,.0f}" for t in tps[v]), lag(v, INSERT)] for v in VARIANTS]))
        bulk_base = median(bulk["none"])
        print(f"\n1000-row INSERT statements, pgbench -c 8 -j 2, {args.seconds}s x "
              f"{args.rounds} rounds (median rows/s; target >= 0.5x)")
        print(table(["capture", "rows/s", "vs none", "rounds", "not yet handled at the end"], [
            [VARIANTS[v][2], median(bulk[v]), median(bulk[v]) / bulk_base,
             " / ".join(f"{t:,.0f}" for t in bulk[v]), lag(v, BULK)] for v in BULK_VARIANTS]))
        lat = []
        for v in LATENCY_VARIANTS:
            db, what, label = VARIANTS[v]
            url, cfg = dbs[db]
            reset(url, cfg)
            with beside(c, what, url, cfg):
                avg, sd = pgbench_latency(url, INSERT, rate=args.rate, seconds=args.seconds)
            lat.append([label, avg, sd])
        print(f"\nCommit latency at a steady {args.rate:,} inserts/s (pgbench -R, 8 clients, "
              f"{args.seconds}s; ms)")
        print(table(["capture", "avg ms", "stddev ms"], lat))


if __name__ == "__main__":
    main()
