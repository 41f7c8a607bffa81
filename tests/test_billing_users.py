"""Who a Stripe event is about: unknown users get no plan and show in `status`; a reference
that later resolves gets its plan; `user_id_from` values are validated by `check` and `serve`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psycopg
import pytest
import redis

from skene_cdc.billing.webhook import StripeWebhookApp
from skene_cdc.checks import CheckContext
from skene_cdc.config import Config
from skene_cdc.errors import ConfigError
from skene_cdc.freemium.meter import plan_key
from skene_cdc.runtime.checks import run_checks
from tests.conftest import run_cli, scalar, write_config
from tests.freemium_support import freemium_config, rows, sign, stripe_event, subscription
from tests.pgcluster import RedisServer


@pytest.fixture
def cfg(tmp_path: Path, redis_server: RedisServer) -> Config:
    return freemium_config(tmp_path, redis_server.url)


def deliver(app: StripeWebhookApp, user: str, sub_id: str) -> dict[str, object]:
    obj = subscription(user, customer=f"cus_{sub_id}")
    obj["id"] = sub_id
    body = stripe_event("customer.subscription.created", obj)
    status, answer = app.handle(body, sign(body))
    assert status == 200, answer
    return answer


def test_unknown_users_get_no_plan_a_warning_and_a_status_line(
        db_url: str, cfg: Config, tmp_path: Path, redis_server: RedisServer,
        caplog: pytest.LogCaptureFixture) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (18, 'u18@x.test')")
    caplog.set_level(logging.INFO)
    app = StripeWebhookApp(cfg, db_url)
    for ref, sub_id in (("99999", "sub_a"), ("usr_2abcDEF", "sub_b"), (" 18", "sub_c")):
        answer = deliver(app, ref, sub_id)
        assert answer["user_id"] is None and answer["plan"] is None, answer
        assert answer["unknown_user"] == ref
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("names user '99999', but no user in public.users has id = '99999'" in w
               for w in warnings), warnings
    assert any("names user 'usr_2abcDEF', but not a valid public.users.id (invalid input "
               "syntax for type bigint" in w for w in warnings), warnings
    assert scalar(db_url, "SELECT count(*) FROM skene.user_plans") == 0
    assert cfg.redis is not None
    r = redis.Redis.from_url(redis_server.url)
    assert [k for k in ("99999", "usr_2abcDEF", " 18", "18")
            if r.exists(plan_key(cfg.redis.key_prefix, k))] == []

    out = run_cli("status", "--json", url=db_url, config_path=tmp_path / "skene.yaml")
    section = json.loads(out.stdout)["stripe_unknown_users"]
    assert sorted(row["user_ref"] for row in section) == [" 18", "99999", "usr_2abcDEF"]
    assert all(row["events"] == 1 and row["last_event_id"] for row in section)
    screen = run_cli("status", url=db_url, config_path=tmp_path / "skene.yaml").stdout
    assert "stripe_unknown_users" in screen and "usr_2abcDEF" in screen

    # The app creates user 99999 later: the next event about that subscription gives the plan.
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email) VALUES (99999, 'late@x.test')")
    answer = deliver(app, "99999", "sub_a")
    assert answer["user_id"] == "99999" and answer["plan"] == "paid"
    assert rows(db_url, "SELECT user_ref FROM skene.stripe_unknown_users ORDER BY 1") == [
        (" 18",), ("usr_2abcDEF",)]
    app.close()


BAD_SOURCES = ["customer", "id", "subscription", "metadata", "metadata.user.id",
               "app.users.email", "items.data"]


@pytest.mark.parametrize("source", BAD_SOURCES)
def test_check_and_serve_refuse_user_id_from_that_cannot_be_a_user_id(
        source: str, db_url: str, cfg: Config, tmp_path: Path) -> None:
    text = (tmp_path / "skene.yaml").read_text().replace(
        "user_id_from: metadata.user_id", f"user_id_from: {source}")
    bad = write_config(tmp_path, text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "user_id_from" in ln)
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        problems = [p for p in run_checks(CheckContext(bad, db_url, conn))
                    if "user_id_from" in p.message]
    assert len(problems) == 1 and problems[0].severity == "error", problems
    assert problems[0].where.endswith(f"skene.yaml:{line}")
    assert "metadata.<key>" in problems[0].fix
    with pytest.raises(ConfigError, match="user_id_from"):
        StripeWebhookApp(bad, db_url)
    out = run_cli("check", url=db_url, config_path=tmp_path / "skene.yaml", check=False)
    assert out.returncode != 0 and "user_id_from" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_customer_names_stripes_own_id(db_url: str, cfg: Config, tmp_path: Path) -> None:
    """docs/config.md used to offer `customer`: it would store cus_... as the user id."""
    text = (tmp_path / "skene.yaml").read_text().replace(
        "user_id_from: metadata.user_id", "user_id_from: customer")
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        problems = run_checks(CheckContext(write_config(tmp_path, text), db_url, conn))
    assert any("Stripe fills with its own ids" in p.message for p in problems), problems


@pytest.mark.parametrize("source", ["metadata.user_id", "metadata.app_user", "client_reference_id"])
def test_sources_that_can_name_a_user_pass(source: str, db_url: str, cfg: Config,
                                           tmp_path: Path) -> None:
    text = (tmp_path / "skene.yaml").read_text().replace(
        "user_id_from: metadata.user_id", f"user_id_from: {source}")
    good = write_config(tmp_path, text)
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        problems = run_checks(CheckContext(good, db_url, conn))
    assert [p for p in problems if "user_id_from" in p.message] == []
    StripeWebhookApp(good, db_url).close()
