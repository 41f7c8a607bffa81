"""Shared by the email tests: a skene.yaml with an email loop, templates, the fake Resend server,
and enqueueing deliveries the way the loop engine does (outbox.enqueue, in a transaction)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from skene_cdc.config import Config
from skene_cdc.config.loops import Recovery
from skene_cdc.db import connect
from skene_cdc.handlers import outbox
from skene_cdc.handlers.decision import StepRef
from skene_cdc.handlers.email.sender import Sender
from tests.conftest import DEFAULT_CONFIG, cli_env, write_config
from tests.fakes.resend_server import FakeResend

API_KEY = "re_test_5ecret_k3y"

# The suite's default config with the provider, sender knobs and one email loop filled in.
EMAIL_CONFIG = DEFAULT_CONFIG.replace("provider: console", "provider: %(provider)s") + """\
  lease: %(lease)s
  batch_size: %(batch_size)s
  concurrency: %(concurrency)s
loops:
  # An api trigger never fires by itself: these tests enqueue deliveries directly.
  - name: welcome
    type: activation
    steps:
      - trigger: {type: api, endpoint: /hooks/welcome}
        condition: {type: query, query: "SELECT id AS user_id FROM users WHERE false"}
        action:
          type: email
          template: welcome
          personalization:
            name: "{{ user.name or 'there' }}"
"""

WELCOME_HTML = """\
---
subject: "Welcome aboard, {{ name }}"
---
<p>Hi {{ name }}, your first project is live.</p>
"""
WELCOME_TXT = "Hi {{ name }}, your first project is live.\n"


def email_config(directory: Path, *, provider: str = "resend", lease: str = "5m",
                 batch_size: int = 50, concurrency: int = 4, extra: str = "",
                 templates: dict[str, str] | None = None) -> Config:
    text = EMAIL_CONFIG % {"provider": provider, "lease": lease, "batch_size": batch_size,
                           "concurrency": concurrency} + extra
    config = write_config(directory, text)
    files = {"welcome.html": WELCOME_HTML, "welcome.txt": WELCOME_TXT, **(templates or {})}
    for name, body in files.items():
        (directory / "templates" / name).write_text(body)
    return config


@pytest.fixture(name="fake_resend")
def fake_resend_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeResend]:
    with FakeResend(api_key=API_KEY) as fake:
        monkeypatch.setenv("RESEND_API_KEY", API_KEY)
        monkeypatch.setenv("RESEND_API_URL", fake.url)
        yield fake


def add_user(url: str, uid: int, email: str, name: str | None) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, %s)", (uid, email, name))


def enqueue(url: str, user_id: str, *, episode: str = "1", loop: str = "welcome",
            template: str = "welcome", provider: str = "resend", retries: int = 3,
            base_delay: float = 10, backoff: str = "exponential", to: str | None = None,
            context: dict[str, Any] | None = None) -> int:
    recovery = Recovery(retries=retries, backoff=backoff,  # type: ignore[arg-type]
                        base_delay=timedelta(seconds=base_delay))
    with connect(url) as conn:
        did = outbox.enqueue(conn, step=StepRef(loop, 0), user_id=user_id, episode=episode,
                             provider=provider, template=template, to_address=to,
                             context=context or {}, recovery=recovery)
    assert did is not None
    return did


def delivery(url: str, did: int) -> dict[str, Any]:
    with connect(url) as conn:
        row = conn.execute("SELECT *, now() AS db_now FROM skene.deliveries WHERE id = %s",
                           (did,)).fetchone()
    assert row is not None
    return row


def make_due(url: str) -> None:
    """Fast-forward: whatever waits for its backoff is due now (no sleeping in tests)."""
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE skene.deliveries SET next_attempt_at = now() "
                     "WHERE state IN ('pending', 'sending')")


def sender(url: str, config: Config, **kw: Any) -> Sender:
    return Sender(url, config, **kw)


def start_listen(url: str, cfg: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "skene_cdc", *args, "listen"], text=True,
                            env=cli_env(url, cfg, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
