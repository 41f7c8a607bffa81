"""Bounded disk under a sustained load (issue 12, goal 3): a soak through the real write path.

The app's bulk INSERT statements (1,000 rows each by default) are captured by skene's trigger
into the queue; the real consumer (EventConsumer with the config's handlers: history, rollups)
moves them into skene.events; the history's partitions follow a simulated clock
(`History(clock=...)`), so `--days` days pass in minutes and `events.retention` drops whole days.
Each row's `created_at` (the configured timestamp column) is the simulated time, so events land
in their simulated day's partition.

The queue's tables rotate by transaction-id ranges (4,096 ids each), not by time: bulk
statements use few ids, so the bench spends `--xids-per-day` ids (empty committed transactions,
as other apps of the cluster would) across each day, and the queue is truncated as it would be
in production. Prints a line per simulated day, then the disk per day.
`python -m bench.soak [--events 20000000] [--days 10] [--retention 3d]`.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import psycopg

from bench.common import cluster, create_db, table
from skene_cdc.config import parse_config
from skene_cdc.db import Row
from skene_cdc.handlers import build_handlers
from skene_cdc.listener.consumer import EventConsumer
from skene_cdc.listener.history import History, retention
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG

ROOT = Path(__file__).parent.parent

INSERT = ("INSERT INTO user_actions (user_id, action_type, created_at) "
          "SELECT 1 + (%(first)s + g) %% %(users)s, 'click', "
          "%(start)s::timestamptz + g * %(step)s::interval "
          "FROM generate_series(0, %(n)s - 1) g")

# Empty transactions that each take a transaction id, committed without waiting for the disk:
# the cluster's other writers, as far as the queue's rotation can tell.
SPEND_XIDS = ("DO $$ BEGIN FOR i IN 1..%s LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; "
              "END $$")

QUEUE_BYTES = ("SELECT (pg_total_relation_size('skene.queue_0') + pg_total_relation_size("
               "'skene.queue_1') + pg_total_relation_size('skene.queue_2'))::bigint AS bytes")

SIZES = """
WITH rel AS (
    SELECT c.oid, c.relname, pg_total_relation_size(c.oid) AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'skene' AND c.relkind IN ('r', 'm')
), parts AS (
    SELECT r.relname, r.bytes FROM rel r JOIN pg_inherits i ON i.inhrelid = r.oid
    WHERE i.inhparent = 'skene.events'::regclass
)
SELECT (SELECT coalesce(sum(bytes), 0) FROM parts)::bigint AS history,
       (SELECT count(*) FROM parts) AS partitions,
       (SELECT min(relname) FROM parts) AS oldest,
       (SELECT coalesce(sum(bytes), 0) FROM rel
         WHERE relname IN ('queue_0', 'queue_1', 'queue_2'))::bigint AS queue,
       (SELECT coalesce(sum(bytes), 0) FROM rel WHERE relname = 'activity_daily')::bigint AS daily,
       (SELECT coalesce(sum(bytes), 0) FROM rel
         WHERE relname IN ('user_activity', 'user_events'))::bigint AS per_user,
       (SELECT coalesce(sum(bytes), 0) FROM rel
         WHERE relname IN ('enrolments', 'deliveries', 'schedule_firings', 'loops'))::bigint
           AS loops,
       (SELECT coalesce(sum(bytes), 0) FROM rel)::bigint AS total,
       (SELECT count(*) FROM skene.queue) AS queued,
       skene.queue_range(pg_current_xact_id()) AS xid_range
"""


def mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f}"


def setup(url: str, users: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, %s) g", (users,))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000_000, help="events in all")
    ap.add_argument("--days", type=int, default=10, help="simulated days")
    ap.add_argument("--retention", default="3d", help="events.retention")
    ap.add_argument("--rows-per-statement", type=int, default=1000)
    ap.add_argument("--chunks-per-day", type=int, default=24,
                    help="insert, spend ids, consume: this many times a simulated day")
    ap.add_argument("--xids-per-day", type=int, default=20_000,
                    help="transaction ids spent a day (a queue range is 4,096)")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=5000, help="the consumer's batch size")
    ap.add_argument("--autovacuum-naptime", default="1s",
                    help="a simulated day passes in minutes, not 24 hours: autovacuum looks this "
                         "often (PostgreSQL's default 1min) so the rollups, updated in place, get "
                         "vacuumed about as often per simulated day as in production")
    args = ap.parse_args(argv)
    text = DEFAULT_CONFIG + f"events: {{retention: {args.retention}}}\n"
    per_day = args.events // args.days
    per_chunk = max(1, per_day // args.chunks_per_day)
    with cluster(autovacuum_naptime=args.autovacuum_naptime) as c:
        cfg_dir = c.datadir.parent
        (cfg_dir / "skene.yaml").write_text(text)
        config = parse_config(text, str(cfg_dir / "skene.yaml"))
        url = create_db(c, "soak_bench")
        setup(url, args.users)
        runner.migrate(url, config)
        start_day = datetime.combine(datetime.now(UTC).date(), dtime(), UTC)
        now = [start_day]
        consumer = EventConsumer(url, build_handlers(config), batch_size=args.batch_size,
                                 retention=retention(config))
        consumer.history = History(retention(config), clock=lambda: now[0])
        rows: list[list[object]] = []
        total = 0
        began = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as app, \
                psycopg.connect(url, autocommit=True) as other, \
                psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as look:
            other.execute("SET synchronous_commit = off")
            for day in range(args.days):
                day_began = time.perf_counter()
                day_start = start_day + timedelta(days=day)
                done_today = 0
                spent = 0
                peak = 0  # the queue's largest size after a consume, this day
                for chunk in range(args.chunks_per_day):
                    span = timedelta(days=1) / args.chunks_per_day
                    chunk_start = day_start + chunk * span
                    n = per_chunk if chunk < args.chunks_per_day - 1 else per_day - done_today
                    step = span / max(n, 1)
                    sent = 0
                    while sent < n:
                        k = min(args.rows_per_statement, n - sent)
                        app.execute(INSERT, {"first": total + sent, "users": args.users,
                                             "start": chunk_start + sent * step, "step": step,
                                             "n": k})
                        sent += k
                    done_today += n
                    xids = (args.xids_per_day * (chunk + 1)) // args.chunks_per_day - spent
                    if xids > 0:
                        other.execute(SPEND_XIDS % xids)
                        spent += xids
                    now[0] = chunk_start + span - timedelta(microseconds=1)
                    consumer.drain()
                    q: Row = look.execute(QUEUE_BYTES).fetchone() or {}
                    peak = max(peak, q["bytes"])
                total += done_today
                secs = time.perf_counter() - day_began
                s: Row = look.execute(SIZES).fetchone() or {}
                print(f"day {day + 1}/{args.days} ({day_start:%Y-%m-%d}): {done_today:,} events "
                      f"in {secs:,.0f}s ({done_today / secs:,.0f}/s); history {mb(s['history'])} "
                      f"MB in {s['partitions']} partitions from {s['oldest']}, queue "
                      f"{mb(s['queue'])} MB ({s['queued']:,} rows, xid range "
                      f"{s['xid_range']}; day's peak {mb(peak)} MB), skene total "
                      f"{mb(s['total'])} MB", flush=True)
                rows.append([day + 1, f"{day_start:%Y-%m-%d}", done_today, mb(s["history"]),
                             mb(s["queue"]), mb(peak), mb(s["daily"]), mb(s["per_user"]),
                             mb(s["loops"]), mb(s["total"]), s["partitions"], s["oldest"]])
        elapsed = time.perf_counter() - began
    print(f"\nSoak: {total:,} events over {args.days} simulated days, events.retention "
          f"{args.retention}, {args.rows_per_statement:,}-row INSERT statements captured by the "
          f"trigger, consumed by the real listener ({consumer.processed:,} events handled, "
          f"{elapsed:,.0f}s, {total / elapsed:,.0f} events/s end to end); sizes in MB at the "
          f"end of each day (queue peak: the largest after any consume that day)")
    print(table(["day", "date", "events", "history MB", "queue MB", "queue peak MB",
                 "daily rollup MB", "per-user rollups MB", "loop state MB", "skene total MB", "partitions",
                 "oldest partition"], rows))


if __name__ == "__main__":
    main()
