"""Shared by the compliance tests (issue 14): a skene.yaml with the email compliance settings,
a newsletter-like template that links {{ unsubscribe_url }}, Svix signing for Resend webhooks,
and reading suppressions back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from skene_cdc.config import Config
from tests.conftest import write_config
from tests.emailkit import EMAIL_CONFIG, WELCOME_HTML, WELCOME_TXT

UNSUBSCRIBE_SECRET = "t3st-unsubscribe-key-0123456789abcdef"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend webhook test secret 32b!!").decode()

UNSUBSCRIBE = f"""\
  unsubscribe:
    url: https://app.acme.test/skene/unsubscribe
    secret: {UNSUBSCRIBE_SECRET}
    mailto: unsubscribe@acme.test
"""

# Loops the tests enqueue for directly (api triggers never fire by themselves).
OTHER_LOOPS = """\
  - name: digest
    type: activation
    priority: %(digest_priority)s
    steps:
      - trigger: {type: api, endpoint: /hooks/digest}
        condition: {type: query, query: "SELECT id AS user_id FROM users WHERE false"}
        action: {type: email, template: news}
  - name: tips
    type: activation
    priority: %(tips_priority)s
    goal_window: %(tips_goal_window)s
    steps:
      - trigger: {type: api, endpoint: /hooks/tips}
        condition: {type: query, query: "SELECT id AS user_id FROM users WHERE false"}
        action: {type: email, template: news}
  - name: receipt
    type: activation
    transactional: true
    steps:
      - trigger: {type: api, endpoint: /hooks/receipt}
        condition: {type: query, query: "SELECT id AS user_id FROM users WHERE false"}
        action: {type: email, template: news}
"""

NEWS_HTML = """\
---
subject: "News for {{ user.name or 'you' }}"
---
<p>Hello.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
"""
NEWS_TXT = "Hello.\nUnsubscribe: {{ unsubscribe_url }}\n"


def compliance_config(directory: Path, *, provider: str = "smtp", email: str = UNSUBSCRIBE,
                      top: str = "", batch_size: int = 50, digest_priority: int = 0,
                      tips_priority: int = 0, tips_goal_window: str = "7d",
                      timezone: str | None = None) -> Config:
    text = EMAIL_CONFIG % {"provider": provider, "lease": "5m", "batch_size": batch_size,
                           "concurrency": 4}
    if timezone:
        text = text.replace("created_at: created_at}", f"created_at: created_at, "
                                                       f"timezone: {timezone}}}", 1)
    text = text.replace("loops:\n", email + "loops:\n", 1)
    text += OTHER_LOOPS % {"digest_priority": digest_priority, "tips_priority": tips_priority,
                           "tips_goal_window": tips_goal_window}
    config = write_config(directory, text + top)
    for name, body in {"welcome.html": WELCOME_HTML, "welcome.txt": WELCOME_TXT,
                       "news.html": NEWS_HTML, "news.txt": NEWS_TXT}.items():
        (directory / "templates" / name).write_text(body)
    return config


def svix_headers(body: bytes, secret: str = RESEND_SECRET, *, msg_id: str = "msg_1",
                 at: int | None = None) -> dict[str, str]:
    """What Resend (through Svix) sends with a webhook: HMAC-SHA256 of `id.timestamp.body` with
    the base64 key after `whsec_`, base64, prefixed `v1,`."""
    ts = str(int(time.time()) if at is None else at)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {"svix-id": msg_id, "svix-timestamp": ts,
            "svix-signature": "v1," + base64.b64encode(mac).decode()}


def resend_event(kind: str, email_id: str, to: str = "ann@x.test", **data: Any) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"type": kind, "created_at": now,
                       "data": {"created_at": now, "email_id": email_id,
                                "from": "Acme <hello@acme.test>", "to": [to],
                                "subject": "News", **data}}).encode()


def suppressions(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM skene.suppressions ORDER BY id").fetchall()
