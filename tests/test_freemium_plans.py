"""The plan cache and its fallbacks, profiles from a Redis hash, the status section and checks."""

from __future__ import annotations

from pathlib import Path

import psycopg
import redis

from skene_cdc.checks import CheckContext
from skene_cdc.config import Config
from skene_cdc.freemium.drain import UsageDrain
from skene_cdc.freemium.gate import Gate
from skene_cdc.freemium.meter import plan_key
from skene_cdc.runtime.checks import run_checks
from skene_cdc.status import collect
from tests.conftest import write_config
from tests.freemium_support import freemium_config, rows
from tests.pgcluster import RedisServer

POST = ("POST", "/api/features/x")


def prefix(cfg: Config) -> str:
    assert cfg.redis is not None
    return cfg.redis.key_prefix


def test_paid_in_postgres_but_not_in_redis_is_not_blocked(
        db_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    """Redis lost the plan cache (restart, flush): the gate asks PostgreSQL before blocking, and
    the listener copies every plan back."""
    cfg = freemium_config(tmp_path, redis_server.url, limit=2)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO skene.user_plans (user_id, plan, status) "
                     "VALUES ('p1', 'paid', 'active'), ('p2', 'paid', 'active')")
    gate = Gate.from_config(cfg, database_url=db_url)
    assert [gate.check("p1", *POST) for _ in range(5)] == [None] * 5
    assert [gate.check("f1", *POST) is None for _ in range(3)] == [True, True, False]
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert r.hget(plan_key(prefix(cfg), "p1"), "plan") == "paid"
    assert r.ttl(plan_key(prefix(cfg), "f1")) > 0  # "free" learned from PostgreSQL expires
    # Without the database fallback, the listener's sync is what restores p2's plan.
    no_db = Gate.from_config(cfg)
    no_db.database_url = None
    UsageDrain(db_url, cfg).drain()
    assert [no_db.check("p2", *POST) for _ in range(4)] == [None] * 4


def test_profile_from_redis_hash(db_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    freemium_config(tmp_path, redis_server.url, limit=1)
    text = (tmp_path / "skene.yaml").read_text().replace(
        "name: name, created_at: created_at}",
        'name: name, created_at: created_at, redis_hash: "prof_{id}"}')
    cfg = write_config(tmp_path, text)
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    r.hset("prof_r9", mapping={"email": "r9@redis.test", "name": "Rae", "tier": "free"})
    gate = Gate.from_config(cfg)
    assert gate.check("r9", *POST) is None
    verdict = gate.check("r9", *POST)
    assert verdict is not None and verdict.status == 402
    UsageDrain(db_url, cfg).drain()
    got = rows(db_url, "SELECT to_address, context->'user'->>'name', context->'event'->>'used' "
                       "FROM skene.deliveries")
    assert got == [("r9@redis.test", "Rae", "1")]


def test_status_section_and_checks(db_url: str, redis_server: RedisServer,
                                   tmp_path: Path) -> None:
    cfg = freemium_config(tmp_path, redis_server.url, limit=1)
    gate = Gate.from_config(cfg)
    with psycopg.connect(db_url) as conn:  # prompts go to users with an address
        conn.execute("INSERT INTO users (id, email) VALUES (1, 'a@x.test'), (2, 'b@x.test')")
    for user in ("1", "2"):
        for _ in range(3):
            gate.check(user, *POST)
    UsageDrain(db_url, cfg).drain()
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute("UPDATE skene.enrolments SET state = 'converted' WHERE user_id = '1'")
        section = collect(conn)["freemium"]
        counts = [(s["loop"], s["users_blocked_30d"], s["requests_blocked_30d"],
                   s["prompts_sent"], s["conversions"]) for s in section]
        assert counts == [("freemium", 2, 4, 2, 1)]
        # Counts are integers (the screen showed "requests blocked 30d 4.0").
        assert all(type(n) is int for n in counts[0][1:]), counts
        assert run_checks(CheckContext(cfg, db_url, conn)) == []
        # Redis down, a secret that is not a signing secret, a missing template.
        text = (tmp_path / "skene.yaml").read_text()
        text = text.replace(redis_server.url, "redis://127.0.0.1:1/0")
        text = text.replace("whsec_test_secret", "sk_live_oops")
        text = text.replace("template: upgrade_prompt", "template: nope")
        problems = run_checks(CheckContext(write_config(tmp_path, text, stub_templates=False), db_url, conn))
    found = {(p.severity, p.message.split(" (")[0].split(" is ")[0]) for p in problems}
    assert ("error", "Redis at redis://127.0.0.1:1/0") in found
    assert any(p.severity == "warning" and "whsec_" in p.message for p in problems)
    assert any(p.severity == "error" and "'nope'" in p.message for p in problems)
    assert all("sk_live_oops" not in str(p) for p in problems)
