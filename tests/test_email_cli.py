"""The sender as users run it: `skene-cdc listen` processes killed with -9 and running side by
side, bad input refused before anything is sent, secrets kept out of output, and `preview`."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from skene_cdc.checks import CheckContext
from skene_cdc.cli.main import cli
from skene_cdc.config import parse_config
from skene_cdc.config.loops import Recovery
from skene_cdc.db import connect
from skene_cdc.handlers import outbox
from skene_cdc.handlers.decision import StepRef
from skene_cdc.handlers.email.checks import check_email
from tests.conftest import run_cli, wait_for
from tests.emailkit import (
    API_KEY,
    EMAIL_CONFIG,
    WELCOME_HTML,
    add_user,
    delivery,
    email_config,
    enqueue,
    fake_resend_fixture,  # noqa: F401 - the fake_resend fixture
    start_listen,
)
from tests.fakes.resend_server import FakeResend


def resend_env(fake: FakeResend, key: str = API_KEY) -> dict[str, Any]:
    return {"RESEND_API_KEY": key, "RESEND_API_URL": fake.url}


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return out, err


def test_kill_9_between_provider_accept_and_record_sends_one_email(
        db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    email_config(tmp_path, lease="4s", batch_size=1, concurrency=1)
    cfg = tmp_path / "skene.yaml"
    add_user(db_url, 1, "ann@x.test", "Ann")
    fake_resend.hold()  # accept the email, but do not answer until released
    proc = start_listen(db_url, cfg, **resend_env(fake_resend))
    try:
        did = enqueue(db_url, "1")
        assert fake_resend.held.wait(30), "the sender never called the provider"
        proc.kill()  # SIGKILL: no cleanup, no "recorded as sent"
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    fake_resend.release()
    row = delivery(db_url, did)
    assert (row["state"], row["provider_message_id"]) == ("sending", None)
    assert len(fake_resend.emails) == 1  # the provider did accept it

    proc = start_listen(db_url, cfg, **resend_env(fake_resend))
    try:
        wait_for(lambda: delivery(db_url, did)["state"] == "sent", timeout=60,
                 what="the retry after the lease ran out")
    finally:
        stop(proc)
    row = delivery(db_url, did)
    keys = [r.idempotency_key for r in fake_resend.requests]
    assert keys == [row["idempotency_key"]] * len(keys) and len(keys) >= 2
    assert fake_resend.requests[-1].replayed
    assert len(fake_resend.emails) == 1, "the provider saw one email"
    assert row["provider_message_id"] == fake_resend.emails[0]["id"]


def test_two_listen_processes_send_each_delivery_once(
        db_url: str, tmp_path: Path, fake_resend: FakeResend) -> None:
    email_config(tmp_path, batch_size=3, concurrency=1)
    cfg = tmp_path / "skene.yaml"
    n = 40
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) SELECT g, 'u' || g || '@x.test', "
                     "'U' || g FROM generate_series(1, %s) g", (n,))
    fake_resend.delay = 0.02
    env = {**resend_env(fake_resend), "SKENE_VERBOSE": "2"}
    procs = [start_listen(db_url, cfg, **env) for _ in range(2)]
    try:
        wait_for(lambda: _listening(db_url) == 2, what="both senders to LISTEN")
        with connect(db_url) as conn:  # one transaction, one NOTIFY: both wake at once
            for uid in range(1, n + 1):
                outbox.enqueue(conn, step=StepRef("welcome", 0), user_id=str(uid), episode="1",
                               provider="resend", template="welcome", to_address=None,
                               context={}, recovery=Recovery())
        wait_for(lambda: _count(db_url, "sent") == n, timeout=90, what="every delivery sent")
    finally:
        logs = [stop(p)[1] for p in procs]
    counts = fake_resend.sends_per_key()
    assert len(counts) == n and set(counts.values()) == {1}, counts
    per_process = [sum(int(m) for m in re.findall(r"email: batch of \d+: (\d+) sent", log))
                   for log in logs]
    assert sum(per_process) == n and all(per_process), per_process


def _listening(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND query LIKE 'LISTEN skene_deliveries%%'"
                           ).fetchone()
    return int(row[0]) if row else 0


def _count(url: str, state: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM skene.deliveries WHERE state = %s",
                           (state,)).fetchone()
    return int(row[0]) if row else 0


# --- bad input: refused before anything is sent --------------------------------------------


def test_template_syntax_error_refuses_to_start(db_url: str, tmp_path: Path,
                                                fake_resend: FakeResend) -> None:
    email_config(tmp_path, templates={"welcome.html": WELCOME_HTML.replace(
        "<p>Hi {{ name }}", "<p>Hi {% if %}{{ name }}")})
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1")
    proc = run_cli("listen", "--once", url=db_url, config_path=tmp_path / "skene.yaml",
                   check=False, **resend_env(fake_resend))
    assert proc.returncode == 2, proc.stderr
    assert "welcome.html:4: " in proc.stderr and "syntax error" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert fake_resend.requests == []
    assert (delivery(db_url, did)["state"], delivery(db_url, did)["attempts"]) == ("pending", 0)


def test_unknown_provider_in_config_is_refused(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "skene.yaml").write_text(EMAIL_CONFIG % {
        "provider": "mailgun", "lease": "5m", "batch_size": 50, "concurrency": 4})
    proc = run_cli("listen", "--once", url=db_url, config_path=tmp_path / "skene.yaml",
                   check=False)
    assert proc.returncode == 2
    assert re.search(r"skene\.yaml:\d+: email\.provider", proc.stderr), proc.stderr
    assert "resend" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_resend_key_is_refused(db_url: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESEND_API_KEY", raising=False)
    email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1")
    proc = run_cli("listen", "--once", url=db_url, config_path=tmp_path / "skene.yaml",
                   check=False)
    assert proc.returncode == 2, proc.stderr
    assert "RESEND_API_KEY is not set" in proc.stderr and "Traceback" not in proc.stderr
    assert delivery(db_url, did)["state"] == "pending"


def test_secrets_never_appear_in_output(db_url: str, tmp_path: Path,
                                        fake_resend: FakeResend) -> None:
    secret = "re_live_TOPSECRET_9f8e7d"
    email_config(tmp_path)
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1")
    cfg = tmp_path / "skene.yaml"
    # The fake expects another key: 403, a permanent error, recorded with its message.
    proc = run_cli("-vv", "listen", "--once", url=db_url, config_path=cfg,
                   **resend_env(fake_resend, key=secret))
    assert fake_resend.requests[0].headers["authorization"] == f"Bearer {secret}"
    row = delivery(db_url, did)
    assert row["state"] == "dead" and "resend 403" in row["last_error"]
    status = run_cli("status", "--json", url=db_url, config_path=cfg,
                     **resend_env(fake_resend, key=secret))
    for text in (proc.stdout, proc.stderr, status.stdout, status.stderr, row["last_error"]):
        assert secret not in text


def test_check_reports_every_template_and_credential_problem(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESEND_API_KEY", raising=False)
    monkeypatch.delenv("SMTP_URL", raising=False)
    config_text = _CHECK_CONFIG
    (tmp_path / "templates").mkdir()
    files = {
        "syntax.html": '---\nsubject: "Hi"\n---\n<p>{% for %}</p>\n',
        "typo.html": '---\nsubject: "Hi {{ name }}"\n---\n\n<p>{{ user.nickname }}</p>\n',
        "good.html": '---\nsubject: "Hi {{ name }}"\n---\n<p>{{ user.plan }} {{ name }}</p>\n',
    }
    for name, body in files.items():
        (tmp_path / "templates" / name).write_text(body)
    (tmp_path / "skene.yaml").write_text(config_text)
    config = parse_config(config_text, str(tmp_path / "skene.yaml"))
    with connect(db_url) as conn:
        problems = list(check_email(CheckContext(config, db_url, conn)))
    text_of = "\n".join(str(p) for p in problems)
    assert f"{tmp_path / 'templates' / 'syntax.html'}:4" in text_of
    assert f"{tmp_path / 'templates' / 'typo.html'}:5" in text_of and "nickname" in text_of
    assert "missing_one" in text_of and "not found" in text_of
    assert "personalization.first" in text_of and "nope" in text_of
    assert "RESEND_API_KEY is not set" in text_of and "SMTP_URL is not set" in text_of
    assert "good.html" not in text_of
    assert len(problems) == 6, text_of


_CHECK_CONFIG = """\
version: 1
app:
  users: {table: public.users}
email:
  provider: resend
loops:
  - name: one
    type: activation
    steps:
      - trigger: {type: api, endpoint: /x}
        condition: {type: query, query: "SELECT 1 AS user_id WHERE false"}
        action:
          type: email
          template: syntax
  - name: two
    type: retention
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: dormant, days: 7}
        action:
          type: email
          provider: smtp
          variants:
            - {template: typo}
            - {template: good}
            - {template: missing_one}
          personalization:
            name: "{{ user.name }}"
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: dormant, days: 7}
        action:
          type: email
          template: good
          personalization:
            name: "{{ user.name }}"
            first: "{{ nope }}"
"""


# --- preview -------------------------------------------------------------------------------


def test_preview_renders_for_one_user(db_url: str, tmp_path: Path) -> None:
    email_config(tmp_path)
    cfg = tmp_path / "skene.yaml"
    add_user(db_url, 1, "ann@x.test", "Ann")
    out = run_cli("preview", "welcome", "--user", "1", url=db_url, config_path=cfg).stdout
    assert "To: ann@x.test" in out and "Subject: Welcome aboard, Ann" in out
    assert "Hi Ann, your first project is live." in out and "loop welcome" in out

    # The other forms in-process (same command, no interpreter start-up per case).
    def preview(*args: str) -> Result:
        return CliRunner().invoke(cli, ["preview", "welcome", *args],
                                  env={"DATABASE_URL": db_url, "SKENE_CONFIG": str(cfg)})

    html = tmp_path / "out.html"
    result = preview("--user", "1", "--html", str(html))
    assert result.exit_code == 0, result.output
    assert html.read_text() == "<p>Hi Ann, your first project is live.</p>\n"
    assert str(html) in result.output
    result = preview("--user", "1", "--open")
    path = Path(result.output.strip())
    try:
        assert path.read_text() == "<p>Hi Ann, your first project is live.</p>\n"
    finally:
        path.unlink()
    result = preview("--user", "404")
    assert result.exit_code == 2 and "no user with id '404'" in result.output
    (tmp_path / "templates" / "welcome.html").write_text(
        '---\nsubject: "x"\n---\n{{ user.nickname }}\n')
    result = preview("--user", "1")
    assert result.exit_code == 2 and "welcome.html:4: undefined variable" in result.output
