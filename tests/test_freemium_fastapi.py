"""The seed's story on a real FastAPI app served by uvicorn: 100 free requests, the 101st is
refused with 402, one upgrade email per period; a signed Stripe subscription makes the user paid
and the conversion is credited to the prompt."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from fastapi import FastAPI, Request

from skene_cdc.billing.webhook import StripeWebhookApp
from skene_cdc.config import Config
from skene_cdc.freemium.asgi import FreemiumMiddleware
from skene_cdc.freemium.drain import UsageDrain
from skene_cdc.freemium.gate import Gate
from skene_cdc.freemium.meter import plan_key
from tests.conftest import consume, scalar
from tests.freemium_support import (
    SECRET,
    freemium_config,
    rows,
    serve,
    sign,
    stripe_event,
    subscription,
)
from tests.pgcluster import RedisServer

MESSAGE = "You've reached your free tier limit. Upgrade to continue."


def build_app(cfg: Config, db_url: str, redis_url: str) -> FastAPI:
    app = FastAPI()

    def current_user(request: Request) -> str | None:
        return request.headers.get("x-user")

    gate = Gate.from_config(cfg, redis_url=redis_url, database_url=db_url)
    app.add_middleware(FreemiumMiddleware, gate=gate, user_id=current_user)

    @app.post("/api/features/{name}")
    def use_feature(name: str) -> dict[str, Any]:
        return {"used": name}

    @app.get("/api/features/{name}")
    def read_feature(name: str) -> dict[str, Any]:
        return {"read": name}

    @app.post("/api/other")
    def other() -> dict[str, Any]:
        return {"other": True}

    app.mount("/stripe", StripeWebhookApp(cfg, db_url))
    return app


def post_event(client: httpx.Client, payload: bytes, signature: str) -> httpx.Response:
    return client.post("/stripe/webhook", content=payload,
                       headers={"stripe-signature": signature, "content-type": "application/json"})


def test_limit_prompt_once_then_stripe_upgrade(db_url: str, redis_server: RedisServer,
                                              tmp_path: Path) -> None:
    cfg = freemium_config(tmp_path, redis_server.url)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) VALUES (42, 'ann@x.test', 'Ann')")
    me = {"x-user": "42"}
    with serve(build_app(cfg, db_url, redis_server.url)) as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        for i in range(100):
            r = client.post("/api/features/x", headers=me)
            assert r.status_code == 200 and r.json() == {"used": "x"}, (i, r.text)
            if i % 5 == 0:  # never counted: GETs, other paths, anonymous requests
                assert client.get("/api/features/x", headers=me).status_code == 200
                assert client.post("/api/other", headers=me).status_code == 200
                assert client.post("/api/features/x").status_code == 200
        r = client.post("/api/features/x", headers=me)
        assert r.status_code == 402
        body = r.json()
        assert body["error"] == MESSAGE and body["upgrade_url"] == "https://acme.test/upgrade"
        assert body["limit"] == 100 and body["used"] == 100 and body["resets_at"].endswith("Z")
        assert int(r.headers["retry-after"]) > 0
        for _ in range(4):
            assert client.post("/api/features/y", headers=me).status_code == 402
        assert client.get("/api/features/x", headers=me).status_code == 200

        drain = UsageDrain(db_url, cfg)
        assert drain.drain() == 105
        consume(db_url, cfg)
        assert scalar(db_url, "SELECT count(*) FROM skene.events WHERE source = 'api' AND "
                              "activity AND user_id = '42' AND event = 'api:POST /api/features/x'"
                      ) == 100
        assert scalar(db_url, "SELECT count(*) FROM skene.events WHERE source = 'api' "
                              "AND event = 'freemium.blocked'") == 5
        assert rows(db_url, "SELECT DISTINCT data->>'endpoint', data->>'plan' FROM skene.events "
                            "WHERE source = 'api'") == [("/api/features/*", "free")]
        deliveries = rows(db_url, "SELECT loop, user_id, template, to_address, state, episode "
                                  "FROM skene.deliveries")
        assert len(deliveries) == 1
        loop, user, template, to, state, episode = deliveries[0]
        assert (loop, user, template, to, state) == ("freemium", "42", "upgrade_prompt",
                                                     "ann@x.test", "pending")
        # More blocked requests, drained again: still one email for this period.
        assert client.post("/api/features/x", headers=me).status_code == 402
        drain.drain()
        assert scalar(db_url, "SELECT count(*) FROM skene.deliveries") == 1
        assert rows(db_url, "SELECT state, episode, (context->>'blocked')::int "
                            "FROM skene.enrolments") == [("sent", episode, 6)]

        # Not from Stripe: forged, stale, unsigned -> 400 and nothing changes.
        payload = stripe_event("customer.subscription.created", subscription("42"))
        assert post_event(client, payload, sign(payload, "whsec_wrong")).status_code == 400
        assert post_event(client, payload, sign(payload, SECRET, int(time.time()) - 3600)
                          ).status_code == 400
        assert client.post("/stripe/webhook", content=payload).status_code == 400
        tampered = payload.replace(b'"42"', b'"43"')
        assert post_event(client, tampered, sign(payload)).status_code == 400
        assert scalar(db_url, "SELECT count(*) FROM skene.external_events WHERE source = 'stripe'") == 0
        assert scalar(db_url, "SELECT plan FROM skene.users WHERE user_id = '42'") == "free"
        assert client.post("/api/features/x", headers=me).status_code == 402

        # Signed: the user becomes paid, the prompt converts, requests pass again.
        r = post_event(client, payload, sign(payload))
        assert r.status_code == 200, r.text
        assert r.json()["plan"] == "paid" and r.json()["converted_enrolment"] is not None
        assert scalar(db_url, "SELECT plan FROM skene.users WHERE user_id = '42'") == "paid"
        converted = rows(db_url, "SELECT state, converted_at FROM skene.enrolments")
        assert converted[0][0] == "converted"
        for _ in range(3):
            assert client.post("/api/features/x", headers=me).status_code == 200

        # The same event again: processed once.
        r = post_event(client, payload, sign(payload))
        assert r.status_code == 200 and r.json()["duplicate"] is True
        assert scalar(db_url, "SELECT count(*) FROM skene.external_events WHERE source = 'stripe'") == 1
        assert rows(db_url, "SELECT state, converted_at FROM skene.enrolments") == converted

    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert r.hgetall(plan_key(cfg.redis.key_prefix if cfg.redis else "", "42"))["plan"] == "paid"
    event = json.loads(payload)
    consume(db_url, cfg)
    assert scalar(db_url, "SELECT user_id FROM skene.events WHERE external_id = %s",
                  (event["id"],)) == "42"


def test_fifty_parallel_http_requests_at_the_edge(db_url: str, redis_server: RedisServer,
                                                  tmp_path: Path) -> None:
    """97 used; 50 requests in flight at once against the uvicorn server: exactly 3 pass."""
    cfg = freemium_config(tmp_path, redis_server.url)
    me = {"x-user": "edge"}
    with serve(build_app(cfg, db_url, redis_server.url)) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(97):
                assert client.post("/api/features/x", headers=me).status_code == 200

        async def burst() -> list[int]:
            limits = httpx.Limits(max_connections=50)
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as ac:
                gate = asyncio.Event()

                async def one() -> int:
                    await gate.wait()
                    return (await ac.post("/api/features/x", headers=me)).status_code

                tasks = [asyncio.create_task(one()) for _ in range(50)]
                await asyncio.sleep(0)
                gate.set()
                return list(await asyncio.gather(*tasks))

        codes = asyncio.run(burst())
    assert codes.count(200) == 3 and codes.count(402) == 47
    assert UsageDrain(db_url, cfg).drain() == 147
    consume(db_url, cfg)
    assert scalar(db_url, "SELECT count(*) FROM skene.events WHERE source = 'api' "
                          "AND activity") == 100
