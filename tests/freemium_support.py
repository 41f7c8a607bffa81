"""Shared by the freemium tests: the config, Stripe signatures, a uvicorn server in a thread, and
a redis-server with persistence that a test may stop and start again."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import uvicorn

from skene_cdc.config import Config
from skene_cdc.demo.postgres import wait_for_port
from tests.conftest import DEFAULT_CONFIG, write_config
from tests.pgcluster import free_port

SECRET = "whsec_test_secret"
_ids = itertools.count()

FREEMIUM = """\
redis:
  url: {redis_url}
  key_prefix: "{prefix}"
  claim_after: 1s
stripe:
  webhook_secret: {secret}
  user_id_from: metadata.user_id
loops:
  - name: freemium
    type: freemium
    opinion: Enforce usage limits for free tier users and trigger upgrade prompts
    steps:
      - trigger: {{type: api, endpoint: "/api/features/*", method: POST}}
        condition: {{type: usage, limit: {{free: {limit}, paid: .inf}}, period: {period}}}
        action:
          type: block
          message: "You've reached your free tier limit. Upgrade to continue."
          upgradeUrl: https://acme.test/upgrade
          fail_open: {fail_open}
          upgradePrompt: {{type: email, provider: console, template: upgrade_prompt}}
    recovery: {{retries: 0}}
"""

TEMPLATE = """---
subject: "You hit the free limit, {{ user.name }}"
---
<p>You used {{ event.used }} of {{ event.limit }}. <a href="{{ event.upgrade_url }}">Upgrade</a>.</p>
"""


def freemium_config(directory: Path, redis_url: str, *, limit: int = 100, period: str = "30d",
                    fail_open: bool = True, extra: str = "") -> Config:
    prefix = f"t{next(_ids)}_{time.monotonic_ns()}:"
    text = DEFAULT_CONFIG + FREEMIUM.format(redis_url=redis_url, prefix=prefix, secret=SECRET,
                                            limit=limit, period=period,
                                            fail_open=str(fail_open).lower()) + extra
    cfg = write_config(directory, text)
    (directory / "templates" / "upgrade_prompt.html").write_text(TEMPLATE)
    return cfg


def sign(payload: bytes, secret: str = SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_event(kind: str, obj: dict[str, Any], *, event_id: str | None = None,
                 created: int | None = None) -> bytes:
    return json.dumps({
        "id": event_id or f"evt_{next(_ids)}_{time.monotonic_ns()}", "object": "event",
        "type": kind, "created": created or int(time.time()), "livemode": False,
        "data": {"object": obj}}).encode()


def subscription(user_id: str, *, status: str = "active", customer: str = "cus_1",
                 amount: int = 1900, anchor: int | None = None) -> dict[str, Any]:
    return {"id": f"sub_{user_id}", "object": "subscription", "customer": customer,
            "status": status, "metadata": {"user_id": user_id},
            "billing_cycle_anchor": anchor or int(time.time()),
            "items": {"data": [{"price": {"id": "price_pro", "unit_amount": amount}}]}}


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class PersistentRedis:
    """redis-server with an append-only file, so a stop and start keeps the counts."""

    port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start_new(cls) -> PersistentRedis:
        server = cls(free_port(), Path(tempfile.mkdtemp(prefix="skene-redis-")))
        server.start()
        return server

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server not installed"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for_port(self.port):
            return
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def rows(url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()

