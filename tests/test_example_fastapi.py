"""examples/fastapi_redis_stripe runs as documented: real uvicorn, Redis, PostgreSQL, the CLI."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import ROOT, run_cli, scalar
from tests.freemium_support import SECRET, serve, sign, stripe_event, subscription
from tests.pgcluster import RedisServer

EXAMPLE = ROOT / "examples" / "fastapi_redis_stripe"


def test_example_app(app_url: str, redis_server: RedisServer, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"DATABASE_URL": app_url, "REDIS_URL": redis_server.url.replace("/0", "/3"),
           "STRIPE_WEBHOOK_SECRET": SECRET, "SKENE_CONFIG": str(EXAMPLE / "skene.yaml")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with psycopg.connect(app_url) as conn:
        conn.execute((EXAMPLE / "schema.sql").read_text())
        conn.execute("INSERT INTO users (id, email, name) VALUES (1, 'ann@acme.test', 'Ann')")
    extra = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "SKENE_CONFIG")}
    run_cli("migrate", url=app_url, config_path=EXAMPLE / "skene.yaml", **extra)

    spec = importlib.util.spec_from_file_location("acme_example_app", EXAMPLE / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    ann = {"authorization": "Bearer 1"}
    with serve(module.app) as base, httpx.Client(base_url=base, timeout=30) as client:
        codes = [client.post("/api/features/summarize", headers=ann).status_code
                 for _ in range(101)]
        assert codes == [200] * 100 + [402]
        assert client.get("/api/features", headers=ann).status_code == 200
        out = run_cli("listen", "--once", url=app_url, config_path=EXAMPLE / "skene.yaml",
                      **extra)
        assert "freemium: 101" in out.stdout
        assert scalar(app_url, "SELECT count(*) FROM skene.deliveries "
                               "WHERE template = 'upgrade_prompt'") == 1
        payload = stripe_event("customer.subscription.created", subscription("1"))
        r = client.post("/stripe/webhook", content=payload,
                        headers={"stripe-signature": sign(payload)})
        assert r.status_code == 200, r.text
        assert client.post("/api/features/summarize", headers=ann).status_code == 200
    assert scalar(app_url, "SELECT plan FROM skene.users WHERE user_id = '1'") == "paid"
    assert scalar(app_url, "SELECT state FROM skene.enrolments") == "converted"
    del sys.modules[spec.name]
