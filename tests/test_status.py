"""`skene-cdc status`: one readable screen (80 columns) and a stable `--json` for scripts."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console

from skene_cdc.cli.render import render_section
from tests.conftest import DEFAULT_CONFIG, run_cli, write_config

# What the loop engine and the sender write, inserted directly: status only reads these tables.
FUNNEL_SQL = """
INSERT INTO skene.loops (name, type) VALUES ('activation', 'activation'),
                                            ('retention', 'retention');
INSERT INTO skene.enrolments (loop, user_id, episode, state, variant, met_at, sent_at,
                              converted_at, last_error, last_evaluated_at)
SELECT 'activation', g::text, 'once',
       CASE WHEN g <= 3 THEN 'converted' WHEN g = 4 THEN 'expired' ELSE 'enrolled' END, NULL,
       CASE WHEN g <= 3 THEN now() END, CASE WHEN g <= 3 THEN now() END,
       CASE WHEN g <= 3 THEN now() END, NULL, NULL
FROM generate_series(1, 8) g;
INSERT INTO skene.enrolments (loop, user_id, episode, state, variant, met_at, sent_at,
                              converted_at, last_error, last_evaluated_at)
SELECT 'retention', g::text, 'spell-1', CASE WHEN g = 1 THEN 'converted' ELSE 'sent' END,
       'variant_' || (g % 2), now(), now(), CASE WHEN g = 1 THEN now() END,
       CASE WHEN g = 2 THEN 'canceling statement due to statement timeout' END, now()
FROM generate_series(1, 4) g;
INSERT INTO skene.deliveries (loop, user_id, step, episode, provider, template, idempotency_key,
                              state, attempts, max_attempts, last_error, updated_at)
VALUES ('retention', '3', 0, 'spell-1', 'resend', 're_engagement', 'k1', 'dead', 4, 4,
        'provider answered 500: internal_server_error', now()),
       ('retention', '4', 0, 'spell-1', 'resend', 're_engagement', 'k2', 'sent', 1, 4, NULL, now()),
       ('activation', '1', 0, 'once', 'resend', 'welcome', 'k3', 'sent', 2, 4,
        'an old error on a delivery that was sent later', now()),
       ('activation', '2', 0, 'once', 'resend', 'welcome', 'k4', 'pending', 1, 4,
        '429 Too Many Requests', now());
"""


def seed(db_url: str, tmp_path: Path) -> Path:
    write_config(tmp_path, DEFAULT_CONFIG)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) SELECT g, 'u' || g || '@x.test', "
                     "'User ' || g FROM generate_series(1, 8) g")
        conn.execute("INSERT INTO user_actions (user_id, action_type) VALUES (1, 'login'), "
                     "(2, 'export')")
    run_cli("listen", "--once", url=db_url, config_path=tmp_path / "skene.yaml")
    with psycopg.connect(db_url) as conn:
        conn.execute(FUNNEL_SQL)
    return tmp_path / "skene.yaml"


def test_status_screen_fits_80_columns_and_shows_each_section(db_url: str, tmp_path: Path) -> None:
    cfg = seed(db_url, tmp_path)
    out = run_cli("status", url=db_url, config_path=cfg, COLUMNS="80").stdout
    lines = out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), out
    for heading in ("capture", "loops", "deliveries", "errors", "listeners", "captured tables"):
        assert any(line == heading or line.startswith(f"{heading}: ") for line in lines), \
            f"no {heading!r} section:\n{out}"
    assert "cursor main  caught up, lag 0.0s, 10 processed" in out
    # The funnel (view skene.loop_funnel): activation converts by its condition, so its rate is
    # over everyone enrolled (3 of 8); retention's over those sent (1 of 4), per variant too.
    section = lines[lines.index("loops") + 1:]
    section = section[:section.index("")]
    funnel = {line.split()[0]: line.split()[1:] for line in section[1:-1]}
    assert funnel["activation"] == ["8", "3", "3", "3", "37.5%", "1"], out
    assert funnel["retention"] == ["4", "4", "4", "1", "25.0%", "0"], out
    assert funnel["variant_1"] == ["2", "2", "2", "1", "50.0%", "0"], out
    assert funnel["variant_0"] == ["2", "2", "2", "0", "0.0%", "0"], out
    # The outbox by state, the newest error under its state.
    assert re.search(r"^  sent +2  last \d+s ago$", out, re.M), out
    assert re.search(r"^  pending +1  next due", out, re.M), out
    assert re.search(r"^  dead +1  last \d+s ago, see errors$", out, re.M), out
    # Errors still standing, newest first; the sent delivery's old error is not one of them.
    assert "retention #1 to user 3: dead after 4 of 4 attempts" in out
    assert "provider answered 500" in out and "429 Too Many Requests" in out
    assert "statement timeout" in out
    assert "an old error" not in out
    assert "public.user_actions  activity, trigger: user=user_id, time=created_at" in out


def test_status_json_is_stable(db_url: str, tmp_path: Path) -> None:
    cfg = seed(db_url, tmp_path)
    report = json.loads(run_cli("status", "--json", url=db_url, config_path=cfg).stdout)
    assert set(report) >= {"capture", "listeners", "tables", "loops", "deliveries", "errors"}
    (cursor,) = report["capture"]
    assert cursor["cursor"] == "main" and cursor["backlog"] == 0 and cursor["lag_seconds"] == 0
    assert cursor["processed"] == 10 and cursor["last_event_id"] == 10
    loops = {(r["loop"], r["variant"]): r for r in report["loops"]}
    assert loops["activation", "(all)"] == {
        "loop": "activation", "type": "activation", "variant": "(all)", "enrolled": 8, "met": 3,
        "sent": 3, "delivered": 0, "converted": 3, "expired": 1, "failed": 0,
        "conversion_rate": 0.375, "suppressed": 0, "held_out": 0, "held_out_converted": 0,
        "held_out_rate": None, "lift": None, "lift_low": None, "lift_high": None}
    assert loops["retention", "variant_1"]["conversion_rate"] == 0.5
    deliveries = {r["state"]: r for r in report["deliveries"]}
    assert {s: r["n"] for s, r in deliveries.items()} == {"pending": 1, "sent": 2, "dead": 1}
    assert "provider answered 500" in deliveries["dead"]["last_error"]
    assert datetime.fromisoformat(deliveries["pending"]["next_due"]) <= datetime.now(UTC)
    assert [e["user_id"] for e in report["delivery_errors"]] == ["2", "3"]
    errors = report["errors"]
    assert [e["source"] for e in errors].count("delivery") == 2
    assert all(set(e) == {"at", "source", "subject", "error"} for e in errors)


def test_status_shows_backlog_when_the_listener_is_behind(db_url: str, tmp_path: Path) -> None:
    cfg = seed(db_url, tmp_path)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO user_actions (user_id, action_type) SELECT 1, 'login' "
                     "FROM generate_series(1, 5)")
    out = run_cli("status", url=db_url, config_path=cfg, COLUMNS="80").stdout
    assert "5 behind" in out
    report = json.loads(run_cli("status", "--json", url=db_url, config_path=cfg).stdout)
    assert report["capture"][0]["backlog"] == 5 and report["capture"][0]["lag_seconds"] > 0


def test_status_on_a_fresh_install_says_what_to_do(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    out = run_cli("status", url=db_url, config_path=tmp_path / "skene.yaml").stdout
    assert "capture: no cursor yet" in out and "skene-cdc listen" in out
    assert "loops: none" in out and "errors: none" in out


def render(title: str, value: object, width: int = 80) -> str:
    buf = io.StringIO()
    render_section(Console(file=buf, width=width, color_system=None), title, value,
                   datetime.now(UTC))
    return buf.getvalue()


def test_sections_other_parts_add_render_readably() -> None:
    """A section like the logical-replication one: one row is key/value lines; many rows with
    many columns become one block per row instead of a table wider than the terminal."""
    now = datetime.now(UTC)
    out = render("replication", [{"slot": "skene_slot", "active": True, "lag_bytes": 1234,
                                  "confirmed_flush_at": now - timedelta(seconds=5)}])
    assert out.splitlines()[0] == "replication"
    assert "  slot                skene_slot" in out and "active              yes" in out
    assert "lag bytes           1,234" in out and "5s ago" in out
    wide = [{f"column_number_{i}": f"value {i} of row {r}" for i in range(8)} for r in range(3)]
    out = render("wide", wide)
    assert all(len(line.rstrip()) <= 80 for line in out.splitlines()), out
    assert "  value 0 of row 2" in out and "    column number 7  value 7 of row 2" in out
    narrow = [{"state": s, "n": n} for s, n in [("sent", 3), ("dead", 1)]]
    out = render("narrow", narrow)
    assert out.splitlines()[1:3] == ["  state  n", "  sent   3"]
