"""Malformed input gets a clear refusal, and nothing is lost or sent wrong (issue 11, item 3):
recipients, skene.yaml, the command line, the gate's Redis counters, the example app."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skene_cdc.freemium.gate import Gate
from skene_cdc.freemium.meter import Meter, counter_prefix
from skene_cdc.freemium.rules import UNLIMITED, Rule, glob_to_regex
from tests.conftest import DEFAULT_CONFIG, ROOT, run_cli, scalar, write_config
from tests.emailkit import add_user, delivery, email_config, enqueue, sender
from tests.fakes.smtp_sink import SmtpSink
from tests.pgcluster import RedisServer

# -- recipients ----------------------------------------------------------------------------------

TWO = "d@x.test, victim2@evil.test"
CRLF = "e@x.test\r\nBcc: victim3@evil.test"


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        monkeypatch.setenv("SMTP_URL", s.url())
        yield s


@pytest.mark.parametrize("address", [TWO, CRLF, "no-at-sign", "a@b@x.test"])
def test_an_invalid_address_is_dead_at_enqueue_and_never_sent(
        db_url: str, tmp_path: Path, sink: SmtpSink, address: str) -> None:
    cfg = email_config(tmp_path, provider="smtp")
    add_user(db_url, 1, "ann@x.test", "Ann")
    did = enqueue(db_url, "1", provider="smtp", to=address)
    row = delivery(db_url, did)
    assert row["state"] == "dead", row
    assert "is not one valid email address" in row["last_error"]
    assert row["attempts"] == 0
    assert sender(db_url, cfg).drain() == 0
    assert sink.envelopes == []


def test_an_invalid_address_found_at_send_time_fails_once_permanently(
        db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    """A delivery enqueued without an address takes the user's, which is checked again: the
    comma address is neither expanded into two recipients nor retried."""
    cfg = email_config(tmp_path, provider="smtp")
    add_user(db_url, 1, TWO, "Dee")
    did = enqueue(db_url, "1", provider="smtp", to=None)
    assert delivery(db_url, did)["state"] == "pending"
    sender(db_url, cfg).drain()
    row = delivery(db_url, did)
    assert (row["state"], row["attempts"]) == ("dead", 1), row
    assert "is not one valid email address" in row["last_error"]
    assert sink.envelopes == []


def test_a_crlf_address_is_not_a_retried_value_error(db_url: str, tmp_path: Path,
                                                     sink: SmtpSink) -> None:
    cfg = email_config(tmp_path, provider="smtp")
    with psycopg.connect(db_url) as conn:  # as if enqueued before recipients were checked
        conn.execute("INSERT INTO users (id, email, name) VALUES (2, 'x@x.test', 'X')")
    did = enqueue(db_url, "2", provider="smtp")
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE skene.deliveries SET to_address = %s WHERE id = %s", (CRLF, did))
    sender(db_url, cfg).drain()
    row = delivery(db_url, did)
    assert row["state"] == "dead" and "ValueError" not in row["last_error"], row
    assert sink.envelopes == []


def test_a_valid_address_is_sent_to_exactly_once(db_url: str, tmp_path: Path,
                                                 sink: SmtpSink) -> None:
    cfg = email_config(tmp_path, provider="smtp")
    add_user(db_url, 1, "ann@X.TEST", "Ann")
    did = enqueue(db_url, "1", provider="smtp", to="ann@X.TEST")
    assert sender(db_url, cfg).drain() == 1
    assert delivery(db_url, did)["state"] == "sent"
    assert sink.envelopes == [("hello@acme.test", ["ann@x.test"])]


# -- skene.yaml and the command line -------------------------------------------------------------

def refused(proc_stderr: str, *needles: str) -> None:
    """One paragraph, no traceback, naming what it must."""
    assert "Traceback" not in proc_stderr and "unexpected" not in proc_stderr, proc_stderr
    assert proc_stderr.startswith("error: ") and proc_stderr.count("\nerror") == 0, proc_stderr
    for needle in needles:
        assert needle in proc_stderr, proc_stderr


def cli(url: str, path: Path, *args: str) -> tuple[int, str]:
    proc = run_cli(*args, url=url, config_path=path, check=False, timeout=60)
    return proc.returncode, proc.stderr


def test_nested_aliases_are_bounded(db_url: str, tmp_path: Path) -> None:
    text = "version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    assert len(text) < 500  # 9^9 values once expanded
    (tmp_path / "skene.yaml").write_text(text)
    code, err = cli(db_url, tmp_path / "skene.yaml", "migrate")
    assert code == 2
    refused(err, "skene.yaml:", "aliases (*name) expand to more than")


@pytest.mark.parametrize("text", ["version: 1\napp: &a {users: *a}\n",
                                  "version: 1\napp: &a [*a]\n"])
def test_a_self_referencing_alias_names_its_line(db_url: str, tmp_path: Path, text: str) -> None:
    (tmp_path / "skene.yaml").write_text(text)
    code, err = cli(db_url, tmp_path / "skene.yaml", "migrate")
    assert code == 2
    refused(err, "skene.yaml:2:", "contains itself")


def test_a_huge_file_is_refused(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "skene.yaml").write_text("version: 1\n# " + "x" * (2 * 1024 * 1024) + "\n")
    code, err = cli(db_url, tmp_path / "skene.yaml", "migrate")
    assert code == 2
    refused(err, "larger than 1024 KiB")


def test_a_config_that_is_not_utf8_names_its_line(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "skene.yaml").write_bytes(b"version: 1\napp:\n  users: {table: caf\xe9}\n")
    code, err = cli(db_url, tmp_path / "skene.yaml", "migrate")
    assert code == 2
    refused(err, "skene.yaml:3:", "not UTF-8", "Save skene.yaml as UTF-8")


def test_a_table_name_with_sql_in_it_is_refused_before_the_database(db_url: str,
                                                                    tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE canary (x int)")
    (tmp_path / "skene.yaml").write_text(
        'version: 1\napp:\n  users: {table: "public.users; DROP TABLE canary"}\n')
    code, err = cli(db_url, tmp_path / "skene.yaml", "migrate")
    assert code == 2
    refused(err, "skene.yaml:3: app.users.table", "is not a table name", "public.users")
    assert scalar(db_url, "SELECT to_regclass('canary') IS NOT NULL") is True


def test_a_database_url_that_is_not_postgresql(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    code, err = cli("http://x", tmp_path / "skene.yaml", "migrate")
    assert code == 2
    refused(err, "--database-url / DATABASE_URL 'http://x'", "postgresql://")
    proc = run_cli("check", url="http://x", config_path=tmp_path / "skene.yaml", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert "DATABASE_URL 'http://x' is not a connection string" in proc.stdout


def test_serve_on_a_busy_port(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG + "stripe: {webhook_secret: whsec_test}\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = cli(db_url, tmp_path / "skene.yaml", "serve", "--port", str(port))
    assert code == 2
    refused(err, f"port {port} on 127.0.0.1 is already in use", "--port")


def test_a_negative_usage_limit_names_the_field(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "skene.yaml").write_text(DEFAULT_CONFIG + """loops:
  - name: gate
    type: freemium
    steps:
      - trigger: {type: api, endpoint: "/api/*"}
        condition: {type: usage, limit: {free: -1}}
        action: {type: block, message: "over"}
""")
    code, err = cli(db_url, tmp_path / "skene.yaml", "loops", "list")
    assert code == 2
    assert "loops[0].steps[0].condition.limit.free: Input should be greater than or equal to 0" \
        in err
    assert "action: {type: block" not in err
    proc = run_cli("check", url=db_url, config_path=tmp_path / "skene.yaml", check=False)
    assert "limit.free" in proc.stdout and "action: {type: block" not in proc.stdout


def test_a_copy_condition_is_called_copy(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG + """loops:
  - name: dump
    type: retention
    steps:
      - trigger: {type: schedule, cron: "0 9 * * *"}
        condition: {type: query, query: "COPY users TO STDOUT"}
        action: {type: email, template: t}
""")
    code, err = cli(db_url, tmp_path / "skene.yaml", "loops", "run", "dump", "--dry-run")
    assert code == 2
    assert "it is COPY, not a SELECT" in err and "COPY USER" not in err, err
    proc = run_cli("check", url=db_url, config_path=tmp_path / "skene.yaml", check=False)
    assert "it is COPY, not a SELECT" in proc.stdout and "COPY USER" not in proc.stdout


# -- the gate ------------------------------------------------------------------------------------

def _rule(free: int, paid: int = UNLIMITED, fail_open: bool = True) -> Rule:
    return Rule(loop="gate", step=0, methods=frozenset({"POST"}), endpoint="/api/*",
                pattern=glob_to_regex("/api/*"), free_limit=free, paid_limit=paid,
                period=86400, message="stop", upgrade_url=None, fail_open=fail_open,
                where="test")


@pytest.fixture
def gate_parts(redis_server: RedisServer) -> Iterator[tuple[Meter, str]]:
    meter = Meter(redis_server.url, prefix=f"h{random.getrandbits(40)}:")
    yield meter, "u1"
    meter.close()


def _counter(meter: Meter, rule: Rule, user: str) -> str:
    window = meter.check(rule, "probe-" + user, "e").window_start
    return f"{counter_prefix(meter.prefix, rule, user)}:{window}"


@pytest.mark.parametrize("fail_open", [True, False])
def test_a_counter_that_is_not_a_number_is_logged_as_such(
        gate_parts: tuple[Meter, str], caplog: pytest.LogCaptureFixture, fail_open: bool) -> None:
    meter, user = gate_parts
    rule = _rule(free=5, fail_open=fail_open)
    key = _counter(meter, rule, user)
    meter.redis.set(key, "abc")
    gate = Gate([rule], meter)
    with caplog.at_level("WARNING", logger="skene.freemium"):
        verdict = gate.check(user, "POST", "/api/x")
    assert (verdict is None) if fail_open else (verdict is not None and verdict.status == 503)
    text = caplog.text
    assert "does not hold a request count" in text and key in text, text
    assert "unreachable" not in text
    assert meter.redis.get(key) == "abc"  # left for a person to look at


def test_a_counter_at_the_largest_integer_blocks_and_reports_it_exactly(
        gate_parts: tuple[Meter, str], caplog: pytest.LogCaptureFixture) -> None:
    meter, user = gate_parts
    rule = _rule(free=5)
    key = _counter(meter, rule, user)
    meter.redis.set(key, str(2**63 - 1))
    gate = Gate([rule], meter)
    with caplog.at_level("WARNING", logger="skene.freemium"):
        verdict = gate.check(user, "POST", "/api/x")
    assert verdict is not None and verdict.status == 402
    assert verdict.body["used"] == 2**63 - 1
    assert "too large to count on" in caplog.text and "unreachable" not in caplog.text
    # Unlimited (paid) at the same count: let through, not incremented past the maximum.
    paid = _rule(free=UNLIMITED)
    meter.redis.set(_counter(meter, paid, user), str(2**63 - 1))
    assert Gate([paid], meter).check(user, "POST", "/api/x") is None
    assert meter.redis.get(_counter(meter, paid, user)) == str(2**63 - 1)


# -- the example app -----------------------------------------------------------------------------

def test_the_example_says_its_bearer_identity_is_a_placeholder() -> None:
    example = ROOT / "examples" / "fastapi_redis_stripe"
    readme = (example / "README.md").read_text()
    app = (example / "app.py").read_text()
    for text in (readme, app):
        assert "PLACEHOLDER" in text and "not authentication" in text
