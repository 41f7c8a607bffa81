"""One convention for steps, episodes, variants and delivery context across every loop type
(issue 13): the freemium gate's deliveries join their enrolments, so the funnel counts them."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from psycopg.rows import dict_row

from skene_cdc.freemium.drain import UsageDrain, UsageSink
from skene_cdc.freemium.gate import Gate
from skene_cdc.handlers.decision import StepRef, sticky_fraction
from skene_cdc.handlers.email.sender import Sender
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG, write_config
from tests.freemium_support import freemium_config
from tests.loops_support import rows
from tests.pgcluster import RedisServer

POST = ("POST", "/api/features/x")


def block(cfg_gate: Gate, user: str, times: int = 2) -> None:
    for _ in range(times):
        cfg_gate.check(user, *POST)


def test_the_funnel_counts_freemium_deliveries(db_url: str, redis_server: RedisServer,
                                               tmp_path: Path) -> None:
    cfg = freemium_config(tmp_path, redis_server.url, limit=1)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) VALUES (42, 'ann@x.test', 'Ann')")
    block(Gate.from_config(cfg), "42")
    UsageDrain(db_url, cfg).drain()
    assert Sender(db_url, cfg).drain() == 1
    [joined] = rows(db_url, "SELECT step, state, delivery_id, delivery_state "
                            "FROM skene.loop_enrolments WHERE loop = 'freemium'")
    assert joined["step"] == 1 and joined["delivery_id"] is not None, joined
    assert joined["delivery_state"] == "sent"
    [delivery] = rows(db_url, "SELECT step, context FROM skene.deliveries")
    assert delivery["step"] == 1
    # The same context shape as the loop engine's (loop, episode, variant beside user/event).
    assert delivery["context"]["loop"] == {"name": "freemium", "type": "freemium", "step": 1,
                                           "opinion": cfg.loops[0].opinion}
    assert set(delivery["context"]) == {"user", "event", "personalization", "loop", "episode",
                                        "variant"}
    [funnel] = rows(db_url, "SELECT sent, delivered, dead FROM skene.loop_funnel "
                            "WHERE loop = 'freemium'")
    assert (funnel["sent"], funnel["delivered"], funnel["dead"]) == (1, 1, 0)


def test_a_freemium_user_missing_from_the_users_table_gets_no_delivery(
        db_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    """docs/loops.md: no address -> the enrolment is `failed` with the reason, and no delivery
    (before: a dead delivery "'dict object' has no attribute 'name'", the enrolment `sent`)."""
    cfg = freemium_config(tmp_path, redis_server.url, limit=1)
    block(Gate.from_config(cfg), "ghost")
    UsageDrain(db_url, cfg).drain()
    assert rows(db_url, "SELECT id FROM skene.deliveries") == []
    [enrolment] = rows(db_url, "SELECT state, sent_at, last_error FROM skene.enrolments")
    assert enrolment["state"] == "failed" and enrolment["sent_at"] is None
    assert enrolment["last_error"] == ("the user has no email address: user ghost is not in "
                                       "public.users")


def test_freemium_variants_are_sticky_across_periods(db_url: str, redis_server: RedisServer,
                                                      tmp_path: Path) -> None:
    """The gate picked a variant by hashing the period too, so a user's variant changed every
    period; now it is the loop engine's sticky (loop, user) choice."""
    freemium_config(tmp_path, redis_server.url, limit=1)
    text = (tmp_path / "skene.yaml").read_text().replace(
        "upgradePrompt: {type: email, provider: console, template: upgrade_prompt}",
        "upgradePrompt: {type: email, provider: console, variants: "
        "[{template: up_a, weight: 1}, {template: up_b, weight: 1}]}")
    cfg = write_config(tmp_path, text)
    users = [str(i) for i in range(1, 9)]
    sink = UsageSink(cfg)
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        for u in users:
            conn.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, 'U')",
                         (int(u), f"u{u}@x.test"))
        for period in range(3):  # what the meter writes for a blocked request, three periods
            ws = 1_800_000_000 + period * 86400
            sink.write(conn, "skene:usage", [
                (f"{period}-{i}", {"t": str(ws * 1000), "k": "b", "l": "freemium", "s": "0",
                                   "u": u, "n": "1", "L": "1", "ws": str(ws),
                                   "we": str(ws + 86400), "e": "api:POST /api/features/x",
                                   "p": "free", "b": "1"})
                for i, u in enumerate(users)])
    got = rows(db_url, "SELECT user_id, variant FROM skene.deliveries")
    assert len(got) == 3 * len(users)
    for g in got:
        want = "up_a" if sticky_fraction("freemium", g["user_id"]) < 0.5 else "up_b"
        assert g["variant"] == want, g


def test_step_numbers_come_from_one_place() -> None:
    assert [(s.number, s.suffix) for s in (StepRef("l", 0), StepRef("l", 1))] == [
        (1, ""), (2, "#2")]
    assert StepRef("l", 2).episode("spell:1") == "spell:1#3"


def test_migration_0010_renumbers_old_freemium_deliveries(app_url: str, tmp_path: Path) -> None:
    """Deliveries written before the fix (step 0) join their enrolment after `migrate`."""
    config = write_config(tmp_path, DEFAULT_CONFIG)
    command.upgrade(runner.alembic_config(app_url), "0006_freemium")
    with psycopg.connect(app_url) as conn:
        conn.execute(
            "INSERT INTO skene.enrolments (loop, user_id, episode, state, context) VALUES "
            "('freemium', '42', '2026-01-01T00:00:00Z', 'sent', "
            "'{\"event\": \"freemium.blocked\"}')")
        conn.execute(
            "INSERT INTO skene.deliveries (loop, user_id, step, episode, provider, template, "
            "idempotency_key) VALUES ('freemium', '42', 0, '2026-01-01T00:00:00Z', 'console', "
            "'upgrade_prompt', 'k1'), ('retention', '42', 1, 'spell:1', 'console', 're', 'k2')")
    runner.migrate(app_url, config)
    assert rows(app_url, "SELECT loop, step FROM skene.deliveries ORDER BY loop") == [
        {"loop": "freemium", "step": 1}, {"loop": "retention", "step": 1}]
    assert rows(app_url, "SELECT delivery_id IS NOT NULL AS joined FROM skene.loop_enrolments"
                ) == [{"joined": True}]
