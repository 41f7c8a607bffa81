"""Freemium gate overhead: the middleware's check against a bare Redis INCR round trip from the
same process (p50/p99), and a FastAPI endpoint's requests/s with and without the middleware
(uvicorn in its own process, a keep-alive load loop in another, loopback only, bounded time).

Targets (docs/freemium.md): check p99 < 1 ms on loopback; throughput >= 0.9x without.
    python -m bench.gate [--n 20000] [--seconds 10] [--rounds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

from skene_cdc.config import parse_config
from skene_cdc.freemium.gate import Gate
from skene_cdc.freemium.plans import write_plan
from tests.pgcluster import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """\
version: 1
app:
  users: {{table: public.users}}
redis:
  url: {url}
loops:
  - name: freemium
    type: freemium
    steps:
      - trigger: {{type: api, endpoint: "/api/features/*", method: POST}}
        condition: {{type: usage, limit: {{free: {limit}, paid: .inf}}, period: 30d}}
        action: {{type: block, message: "Upgrade to continue."}}
"""


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(headers)] + [[f"{v:,.1f}" if isinstance(v, float) else str(v) for v in r]
                               for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
           for r in cells]
    out.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(out)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(200, n)):  # warm up: connections, EVALSHA cache
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t) / 1000)
    return samples


def latency(url: str, cfg_text: str, n: int) -> list[list[object]]:
    gate = Gate.from_config(parse_config(cfg_text, "bench.yaml", env={}))
    r = redis.Redis.from_url(url)
    write_plan(gate.meter.redis, gate.meter.prefix, "paid-user", "paid", "active", None)
    blocked = Gate.from_config(parse_config(cfg_text.replace("free: 1000000000", "free: 0"),
                                            "bench.yaml", env={}))
    post = ("POST", "/api/features/x")
    cases: list[tuple[str, Callable[[], object]]] = [
        ("bare Redis INCR round trip", lambda: r.incr("bench:bare")),
        ("gate check, free user under the limit", lambda: gate.check("free-user", *post)),
        ("gate check, paid user (unlimited)", lambda: gate.check("paid-user", *post)),
        ("gate check, over the limit (402)", lambda: blocked.check("blocked-user", *post)),
        ("request not metered (GET)", lambda: gate.check("free-user", "GET", "/api/features/x")),
    ]
    rows: list[list[object]] = []
    for name, fn in cases:
        s = timed(fn, n)
        rows.append([name, percentile(s, 50), percentile(s, 99), statistics.mean(s)])
    s = asyncio.run(_async_samples(gate, n))
    rows.insert(2, ["gate acheck (async, the ASGI path)", percentile(s, 50), percentile(s, 99),
                    statistics.mean(s)])
    r.delete(gate.meter.stream, blocked.meter.stream)
    return rows


async def _async_samples(gate: Gate, n: int) -> list[float]:
    for _ in range(min(200, n)):
        await gate.acheck("free-user", "POST", "/api/features/x")
    samples = []
    for _ in range(n):
        t = time.perf_counter_ns()
        await gate.acheck("free-user", "POST", "/api/features/x")
        samples.append((time.perf_counter_ns() - t) / 1000)
    return samples


# -- throughput -------------------------------------------------------------------------------

def serve(port: int, gate_on: bool, cfg_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SKENE_CONFIG": str(cfg_path),
           "SKENE_BENCH_GATE": "1" if gate_on else "0"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.gate_app:app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning",
                             "--no-access-log"], env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            asyncio.run(_one("127.0.0.1", port))
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("uvicorn did not start")


REQUEST = (b"POST /api/features/x HTTP/1.1\r\nhost: 127.0.0.1\r\nx-user: load-user\r\n"
           b"content-length: 0\r\n\r\n")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def _one(host: str, port: int) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(REQUEST)
    status = await _read_response(reader)
    writer.close()
    return status


async def _load(port: int, seconds: float, concurrency: int) -> dict[str, float]:
    """Keep-alive connections, one request in flight each, for `seconds`."""
    stop = time.monotonic() + seconds
    done, bad = 0, 0

    async def worker() -> None:
        nonlocal done, bad
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop:
            writer.write(REQUEST)
            if await _read_response(reader) == 200:
                done += 1
            else:
                bad += 1
        writer.close()

    t = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"ok": done, "bad": bad, "elapsed": time.monotonic() - t}


def load(port: int, seconds: float, concurrency: int) -> dict[str, float]:
    """Run the load loop in a separate process, so it does not share the server's GIL/core."""
    out = subprocess.run([sys.executable, "-m", "bench.gate", "--load-port", str(port),
                          "--seconds", str(seconds), "--concurrency", str(concurrency)],
                         capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def throughput(cfg_path: Path, seconds: float, rounds: int, concurrency: int
               ) -> list[list[object]]:
    rates: dict[bool, list[float]] = {False: [], True: []}
    bad = 0
    for _ in range(rounds):  # alternate, so drift in machine load hits both sides alike
        for gate_on in (False, True):
            port = free_port()
            proc = serve(port, gate_on, cfg_path)
            try:
                res = load(port, seconds, concurrency)
            finally:
                proc.terminate()
                proc.wait(10)
            rates[gate_on].append(res["ok"] / res["elapsed"])
            bad += int(res["bad"])
    if bad:
        print(f"warning: {bad} responses were not 200")
    base, gated = statistics.median(rates[False]), statistics.median(rates[True])
    return [["FastAPI endpoint, no middleware", base, "1.00"],
            ["FastAPI endpoint + freemium middleware", gated, f"{gated / base:.2f}"]]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20_000, help="latency samples per case")
    ap.add_argument("--seconds", type=float, default=10, help="load per throughput run")
    ap.add_argument("--rounds", type=int, default=3, help="throughput runs per side (median)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--load-port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.load_port:
        print(json.dumps(asyncio.run(_load(args.load_port, args.seconds, args.concurrency))))
        return
    server = RedisServer.start()
    try:
        with tempfile.TemporaryDirectory() as d:
            cfg_text = CONFIG.format(url=server.url, limit=1_000_000_000)
            cfg_path = Path(d) / "skene.yaml"
            cfg_path.write_text(cfg_text)
            rows = latency(server.url, cfg_text, args.n)
            print(f"\nGate check latency, {args.n:,} sequential calls each, same process (µs)")
            print(table(["call", "p50 µs", "p99 µs", "mean µs"], rows))
            print("target: gate check p99 < 1000 µs on loopback")
            tp = throughput(cfg_path, args.seconds, args.rounds, args.concurrency)
            print(f"\nFastAPI POST /api/features/x, uvicorn (1 worker), {args.concurrency} "
                  f"keep-alive connections, {args.seconds:g}s x {args.rounds} rounds (median)")
            print(table(["server", "requests/s", "vs no middleware"], tp))
            print("target: >= 0.90x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
