"""The whole `skene-cdc listen` process, trigger mode and logical mode side by side (issue 12,
goal 2: >= 60,000 events/s from commit to handled, p99 <= 50 ms at 1,000 events/s).

Each mode gets its own database and runs the real CLI (`python -m skene_cdc listen`, the default
config's handlers: history, activity rollups, the sender) as its own process.

1. Throughput: the listener is started and warmed up, then frozen (SIGSTOP); N app rows are
   committed (INSERT statements of --txn-rows rows, captured by the trigger into the queue, or
   left in the WAL for the slot); then SIGCONT, and the clock runs until skene.cursors.processed
   (moved in the batch's own transaction, with the handlers) has counted all N.
2. Latency: single-row INSERT commits at a steady --rate while the listener runs; commit ->
   handled = commit time of the event's row in skene.events (written in the transaction that runs
   the handlers) - commit time of the app row, both from the server (track_commit_timestamp).
3. CPU: user+system time from /proc/<pid>/stat of the listener process, of its PostgreSQL
   backends (application_name 'skene-cdc ...', the walsender too) and of every PostgreSQL process
   (the postmaster's children: also walwriter, checkpointer, autovacuum, and in the latency run
   the app's own backends), per 1,000 events. 1,000 ms of CPU a second divided by the CPU per
   1,000 events (listener + all of PostgreSQL) is the ceiling of a pipeline that never overlaps
   the listener's work with the database's; twice that, of one that keeps both 2 cores busy.
   "Cores busy" says how much CPU the catch-up really used: well under 1 means time goes to
   waiting (round trips, commit flushes, polling), not to computing.

`python -m bench.listener [--events 500000] [--rate 1000] [--seconds 20] [--modes trigger,logical]`
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.common import cluster, create_db, percentile, table
from skene_cdc.config import parse_config
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG, cli_env
from tests.pgcluster import PgCluster

ROOT = Path(__file__).parent.parent
CONFIGS = {
    "trigger": DEFAULT_CONFIG,
    "logical": DEFAULT_CONFIG.replace("capture:\n  poll_interval: 1s",
                                      "capture:\n  mode: logical\n  slot: bench_listen\n"
                                      "  max_slot_lag: 20GB\n  poll_interval: 1s"),
}
TICK = os.sysconf("SC_CLK_TCK")

PRODUCER = """
import sys, threading, time, psycopg
url, rate, seconds, threads = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), 4
start = time.time() + 0.3
def work(k):
    with psycopg.connect(url, autocommit=True) as conn:
        per = rate / threads
        i = 0
        while True:
            due = start + i / per + k / rate
            if due > start + seconds:
                return
            time.sleep(max(0, due - time.time()))
            conn.execute("INSERT INTO user_actions (user_id, action_type) "
                         "VALUES (1 + %s %% 1000, 'tick')", (i,))
            i += 1
ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
"""


def cpu_ms(pid: int, children: bool = False) -> float:
    """utime + stime (+ the reaped children's) of a process, in ms; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks * 1000 / TICK


def children_of(ppid: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == ppid:
                pids.append(int(d.name))
    return pids


@dataclass
class Cpu:
    """CPU time, in ms, used so far by the listener, its backends and all of PostgreSQL."""

    listener: float
    backends: float
    postgres: float

    @classmethod
    def now(cls, listener: int, backends: list[int], postmaster: int) -> Cpu:
        return cls(cpu_ms(listener), sum(cpu_ms(p) for p in backends),
                   cpu_ms(postmaster, children=True)
                   + sum(cpu_ms(p) for p in children_of(postmaster)))

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.listener - other.listener, self.backends - other.backends,
                   self.postgres - other.postgres)

    def per_1000(self, events: int) -> Cpu:
        k = max(events, 1) / 1000
        return Cpu(self.listener / k, self.backends / k, self.postgres / k)


@dataclass
class Result:
    mode: str
    events: int = 0
    seconds: float = 0.0
    cpu: Cpu = field(default_factory=lambda: Cpu(0, 0, 0))
    latency: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)  # after the first second (idle wake-up)
    expected: int = 0
    steady_cpu: Cpu = field(default_factory=lambda: Cpu(0, 0, 0))


def scalar(conn: psycopg.Connection[tuple[object, ...]], query: str,
           params: tuple[object, ...] = ()) -> object:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def processed(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    return int(str(scalar(conn, "SELECT coalesce(max(processed), 0) FROM skene.cursors "
                                "WHERE name = 'main'")))


def wait_processed(conn: psycopg.Connection[tuple[object, ...]], target: int,
                   timeout: float) -> float:
    """Poll until the cursor has counted `target`; the time it did (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        if processed(conn) >= target:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"listener did not catch up: {processed(conn):,} < {target:,}")
        time.sleep(0.02)


def setup(c: PgCluster, mode: str) -> tuple[str, Path]:
    url = create_db(c, f"listen_{mode}")
    cfg = c.datadir.parent / f"{mode}.yaml"
    cfg.write_text(CONFIGS[mode])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@x.test' "
                     "FROM generate_series(1, 1000) g")
    runner.migrate(url, parse_config(CONFIGS[mode], str(cfg)))
    return url, cfg


def insert(conn: psycopg.Connection[tuple[object, ...]], rows: int, per_txn: int) -> None:
    for first in range(0, rows, per_txn):
        conn.execute("INSERT INTO user_actions (user_id, action_type) SELECT 1 + g %% 1000, "
                     "'bulk' FROM generate_series(1, %s) g", (min(per_txn, rows - first),))


def run_mode(c: PgCluster, mode: str, args: argparse.Namespace) -> Result:
    url, cfg = setup(c, mode)
    res = Result(mode)
    log = open(c.datadir.parent / f"listen_{mode}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "skene_cdc", "listen"],
                            env=cli_env(url, cfg), stdout=log, stderr=subprocess.STDOUT)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            postmaster = int(Path(f"/proc/{scalar(conn, 'SELECT pg_backend_pid()')}/stat")
                             .read_text().rsplit(")", 1)[1].split()[1])
            deadline = time.monotonic() + 60
            while not scalar(conn, "SELECT count(*) > 0 FROM skene.listeners") or (
                    mode == "logical" and not scalar(
                        conn, "SELECT count(*) > 0 FROM pg_replication_slots WHERE active")):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"listener did not start; see {log.name}")
                time.sleep(0.1)
            insert(conn, 1000, 100)  # warm up: everything connected and flowing
            wait_processed(conn, 1000, 60)
            backends = [int(str(r[0])) for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'skene-cdc %%' "
                "AND pid <> pg_backend_pid()")]
            # 1. Throughput: freeze the listener, commit N, let it go.
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                base = processed(conn)
                insert(conn, args.events, args.txn_rows)
                before = Cpu.now(proc.pid, backends, postmaster)
                start = time.monotonic()
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            end = wait_processed(conn, base + args.events, max(120, args.events / 1000))
            res.events, res.seconds = args.events, end - start
            res.cpu = (Cpu.now(proc.pid, backends, postmaster) - before).per_1000(args.events)
            # 2. Latency at a steady rate, with the listener's CPU at that rate.
            time.sleep(2)  # idle first: the first rows also take the wake-up path
            mark = int(str(scalar(conn, "SELECT coalesce(max(id), 0) FROM user_actions")))
            base = processed(conn)
            before = Cpu.now(proc.pid, backends, postmaster)
            subprocess.run([sys.executable, "-c", PRODUCER, url, str(args.rate),
                            str(args.seconds)], check=True)
            res.expected = int(str(scalar(conn, "SELECT count(*) FROM user_actions "
                                                "WHERE id > %s", (mark,))))
            try:
                wait_processed(conn, base + res.expected, 30)
            except RuntimeError as exc:
                print(f"{mode}: {exc}", file=sys.stderr)
            res.steady_cpu = (Cpu.now(proc.pid, backends, postmaster) - before).per_1000(
                res.expected)
            rows = conn.execute(
                "SELECT extract(epoch FROM h - c) * 1000, extract(epoch FROM c - min(c) OVER ()) "
                "FROM (SELECT pg_xact_commit_timestamp(e.xmin) AS h, "
                "             pg_xact_commit_timestamp(u.xmin) AS c "
                "      FROM skene.events e JOIN user_actions u "
                "        ON u.id = (e.data->>'id')::bigint "
                "      WHERE e.table_name = 'public.user_actions' AND e.event = 'tick' "
                "        AND u.id > %s) x", (mark,)).fetchall()
            res.latency = [float(str(r[0])) for r in rows]
            res.warm = [float(str(r[0])) for r in rows if float(str(r[1])) >= 1.0]
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500_000, help="throughput: events pre-loaded")
    ap.add_argument("--txn-rows", type=int, default=100, help="throughput: rows per app commit")
    ap.add_argument("--rate", type=float, default=1000, help="latency: events/s")
    ap.add_argument("--seconds", type=float, default=20, help="latency: duration")
    ap.add_argument("--modes", default="trigger,logical")
    args = ap.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: list[Result] = []
    with cluster(track_commit_timestamp="on", max_slot_wal_keep_size="20GB") as c:
        for mode in modes:
            results.append(run_mode(c, mode, args))
            print(f"{mode}: {results[-1].events / results[-1].seconds:,.0f} events/s",
                  file=sys.stderr, flush=True)

    def row(name: str, f: Callable[[Result], object]) -> list[object]:
        return [name, *(f(r) for r in results)]

    def ceiling(cpu: Cpu) -> float:
        return 2000 / max(cpu.listener + cpu.postgres, 1e-9) * 1000

    print(f"\n`skene-cdc listen`, whole process, default config's handlers; throughput: "
          f"{args.events:,} events committed ({args.txn_rows} rows a commit) while the listener "
          f"was stopped, then timed to handled; latency: single-row commits at "
          f"{args.rate:,.0f}/s for {args.seconds:.0f}s, commit -> handled (server commit "
          f"timestamps). Targets: >= 60,000 events/s, p99 <= 50 ms. CPU in ms per 1,000 events.")
    print(table(["", *(r.mode for r in results)], [
        row("throughput, events/s (commit -> handled)", lambda r: r.events / r.seconds),
        row("catch-up time, s", lambda r: r.seconds),
        row("CPU: listener process", lambda r: r.cpu.listener),
        row("CPU: its PostgreSQL backends (+ walsender)", lambda r: r.cpu.backends),
        row("CPU: all PostgreSQL processes", lambda r: r.cpu.postgres),
        row("cores busy while catching up (listener + PostgreSQL)",
            lambda r: (r.cpu.listener + r.cpu.postgres) * r.events / r.seconds / 1e6),
        row("ceiling at that CPU, 1 core (no overlap), events/s", lambda r: ceiling(r.cpu) / 2),
        row("ceiling at that CPU, 2 cores, events/s", lambda r: ceiling(r.cpu)),
        row(f"latency p50 ms at {args.rate:,.0f}/s", lambda r: percentile(r.latency, 50)),
        row("latency p90 ms", lambda r: percentile(r.latency, 90)),
        row("latency p99 ms", lambda r: percentile(r.latency, 99)),
        row("latency max ms", lambda r: max(r.latency or [float("nan")])),
        row("latency p99 ms after the first second (woken from idle)",
            lambda r: percentile(r.warm, 99)),
        row("events handled / committed", lambda r: f"{len(r.latency):,} / {r.expected:,}"),
        row("steady CPU: listener process", lambda r: r.steady_cpu.listener),
        row("steady CPU: its PostgreSQL backends", lambda r: r.steady_cpu.backends),
        row("steady CPU: all PostgreSQL (app inserts too)", lambda r: r.steady_cpu.postgres),
    ]))


if __name__ == "__main__":
    main()
