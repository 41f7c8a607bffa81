"""Sender throughput (emails/s) against the local fake Resend server, side by side:
one delivery per transaction and per request, vs batched claims and recording, vs batched plus
concurrent requests.

    python -m bench.sender --n 2000 [--latency-ms 5] [--database-url URL]

Without --database-url it starts a throwaway PostgreSQL (tests/pgcluster.py). The fake provider
runs in its own process, so its work does not share this interpreter's GIL. Every run checks
that each delivery was sent exactly once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg

from skene_cdc.config import parse_config
from skene_cdc.handlers.email.sender import Sender
from skene_cdc.migrations import runner

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "re_bench_key"

CONFIG = """\
version: 1
app:
  users: {table: public.users, id: id, email: email, name: name, created_at: created_at}
email:
  provider: resend
  from: "Bench <bench@acme.test>"
  templates: templates
loops:
  - name: welcome
    type: activation
    steps:
      - trigger: {type: api, endpoint: /bench}
        condition: {type: query, query: "SELECT 1 AS user_id WHERE false"}
        action:
          type: email
          template: welcome
          personalization: {name: "{{ user.name or 'there' }}"}
"""
TEMPLATE = '---\nsubject: "Welcome aboard, {{ name }}"\n---\n<p>Hi {{ name }}, welcome.</p>\n'

# Enqueue N deliveries in one statement, exactly as outbox.enqueue would store them.
ENQUEUE = """
INSERT INTO skene.deliveries (loop, user_id, step, episode, provider, template, idempotency_key)
SELECT 'welcome', g::text, 0, %(run)s, 'resend', 'welcome', 'bench-' || %(run)s || '-' || g
FROM generate_series(1, %(n)s) g
"""


@dataclass
class Mode:
    name: str
    batch_size: int
    concurrency: int


MODES = [Mode("one at a time", 1, 1), Mode("batched (50), 1 request at a time", 50, 1),
         Mode("batched (50), 8 concurrent requests", 50, 8)]


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_stats", timeout=10) as resp:
        data: dict[str, int] = json.load(resp)
        return data


def run(db_url: str, n: int, latency_ms: float) -> list[tuple[str, int, int, float, float]]:
    work = Path(tempfile.mkdtemp(prefix="skene-bench-sender-"))
    (work / "templates").mkdir()
    (work / "templates" / "welcome.html").write_text(TEMPLATE)
    (work / "skene.yaml").write_text(CONFIG)
    config = parse_config(CONFIG, str(work / "skene.yaml"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "app_schema.sql").read_text())
    runner.migrate(db_url, config)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) SELECT g, 'u' || g || '@x.test', "
                     "'User ' || g FROM generate_series(1, %s) g", (n,))
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.resend_server", "--delay",
                             str(latency_ms / 1000), "--api-key", API_KEY],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert fake.stdout is not None
        fake_url = fake.stdout.readline().strip()
        env = {"RESEND_API_KEY": API_KEY, "RESEND_API_URL": fake_url}
        rows = []
        for i, mode in enumerate(MODES):
            with psycopg.connect(db_url) as conn:
                conn.execute(ENQUEUE, {"run": str(i), "n": n})
            before = stats(fake_url)
            sender = Sender(db_url, config, batch_size=mode.batch_size,
                            concurrency=mode.concurrency, env=env)
            t0 = time.perf_counter()
            sent = sender.drain()
            elapsed = time.perf_counter() - t0
            after = stats(fake_url)
            emails = after["emails"] - before["emails"]
            if sent != n or emails != n or after["max_sends_per_key"] != 1:
                raise SystemExit(f"{mode.name}: sent {sent}, provider got {emails} of {n} "
                                 f"(max sends per key {after['max_sends_per_key']})")
            rows.append((mode.name, mode.batch_size, mode.concurrency, elapsed, n / elapsed))
        return rows
    finally:
        fake.terminate()
        fake.wait(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Email sender throughput")
    parser.add_argument("--n", type=int, default=2000, help="deliveries per mode")
    parser.add_argument("--latency-ms", type=float, default=5.0,
                        help="the fake provider's time per request (a real API: ~50-300 ms)")
    parser.add_argument("--database-url", help="an empty database (default: a throwaway "
                                               "cluster)")
    args = parser.parse_args(argv)
    cluster = None
    url = args.database_url
    if url is None:
        sys.path.insert(0, str(ROOT))
        from tests.pgcluster import PgCluster

        cluster = PgCluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench_sender")
        url = cluster.url("bench_sender")
    try:
        rows = run(url, args.n, args.latency_ms)
    finally:
        if cluster is not None:
            cluster.stop("immediate")
    base = rows[0][4]
    print(f"\nsender throughput: {args.n} emails per mode, fake Resend at {args.latency_ms:g} ms "
          "per request, real resend SDK, real PostgreSQL\n")
    print(f"| {'mode':<38} | batch | concurrency | seconds | emails/s | vs one at a time |")
    print(f"| {'-' * 38} | ----- | ----------- | ------- | -------- | ---------------- |")
    for name, batch, conc, secs, rate in rows:
        print(f"| {name:<38} | {batch:>5} | {conc:>11} | {secs:>7.2f} | {rate:>8.0f} | "
              f"{rate / base:>15.1f}x |")
    print("\nEvery mode: each delivery sent exactly once (checked against the provider's "
          "counters).")


if __name__ == "__main__":
    main()
