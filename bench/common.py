"""Shared benchmark plumbing: a durable throwaway cluster, pgbench, tables, percentiles."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.pgcluster import PgCluster

DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
           "shared_buffers": "256MB", "max_wal_size": "4GB", "checkpoint_timeout": "30min"}


@contextmanager
def cluster(**extra: str) -> Iterator[PgCluster]:
    """A cluster with durable commits (fsync on), like production; tests use fsync off."""
    c = PgCluster.start(extra={**DURABLE, **extra})
    try:
        yield c
    finally:
        c.stop("immediate")


def create_db(c: PgCluster, name: str, template: str = "template1") -> str:
    with psycopg.connect(c.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return c.url(name)


def pgbench(url: str, script: str, *args: str, clients: int = 8,
            seconds: int = 10) -> dict[str, float]:
    """Run a pgbench script; its summary lines (`tps = …`, `latency average = … ms`) by name."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds),
                              *args, "-f", f.name, url],
                             capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    stats = {}
    for line in out.stdout.splitlines():
        name, sep, rest = line.partition(" = ")
        if sep and name in ("tps", "latency average", "latency stddev"):
            stats[name] = float(rest.split()[0])
    if "tps" not in stats:
        raise RuntimeError(f"no tps in pgbench output:\n{out.stdout}\n{out.stderr}")
    return stats


def pgbench_tps(url: str, script: str, *, clients: int = 8, seconds: int = 10) -> float:
    return pgbench(url, script, clients=clients, seconds=seconds)["tps"]


def pgbench_latency(url: str, script: str, *, rate: int, clients: int = 8,
                    seconds: int = 10) -> tuple[float, float]:
    """Commit latency (average, stddev in ms) at a fixed rate: what an app feels below saturation."""
    stats = pgbench(url, script, "-R", str(rate), clients=clients, seconds=seconds)
    return stats["latency average"], stats["latency stddev"]


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


BENCH_DIR = Path(__file__).parent
