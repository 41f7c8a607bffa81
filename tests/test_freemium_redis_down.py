"""Redis stops mid-test: fail_open lets requests through and logs once; fail_open: false answers
503; when Redis is back, counting carries on from where it was."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from skene_cdc.config import Config
from skene_cdc.freemium.asgi import FreemiumMiddleware
from skene_cdc.freemium.gate import Gate
from tests.freemium_support import PersistentRedis, freemium_config, serve


@pytest.fixture
def own_redis() -> Iterator[PersistentRedis]:
    server = PersistentRedis.start_new()
    try:
        yield server
    finally:
        server.destroy()


def app_for(cfg: Config) -> FastAPI:
    app = FastAPI()
    app.add_middleware(FreemiumMiddleware, gate=Gate.from_config(cfg),
                       user_id=lambda r: r.headers.get("x-user"))

    @app.post("/api/features/{name}")
    def use(name: str) -> dict[str, Any]:
        return {"ok": name}

    @app.get("/api/features/{name}")
    def read(name: str, request: Request) -> dict[str, Any]:
        return {"read": name}

    return app


def test_redis_stopped_fail_open_and_closed_then_resumes(
        own_redis: PersistentRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "open").mkdir()
    (tmp_path / "closed").mkdir()
    open_cfg = freemium_config(tmp_path / "open", own_redis.url, limit=5)
    closed_cfg = freemium_config(tmp_path / "closed", own_redis.url, limit=5, fail_open=False)
    me = {"x-user": "7"}
    with serve(app_for(open_cfg)) as open_url, serve(app_for(closed_cfg)) as closed_url, \
            httpx.Client(base_url=open_url) as lenient, \
            httpx.Client(base_url=closed_url) as strict:
        for _ in range(3):
            assert lenient.post("/api/features/x", headers=me).status_code == 200
        assert strict.post("/api/features/x", headers=me).status_code == 200

        own_redis.stop()
        caplog.set_level(logging.WARNING, logger="skene.freemium")
        for _ in range(4):
            assert lenient.post("/api/features/x", headers=me).status_code == 200
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(warnings) == 1 and "fail_open" in warnings[0].getMessage()
        r = strict.post("/api/features/x", headers=me)
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert strict.get("/api/features/x", headers=me).status_code == 200  # never metered

        own_redis.start()
        # 3 counted before the outage, the 4 during it were not: 2 more pass, then 402.
        assert [lenient.post("/api/features/x", headers=me).status_code for _ in range(3)] == \
            [200, 200, 402]
        assert lenient.post("/api/features/x", headers=me).json()["used"] == 5
        assert [strict.post("/api/features/x", headers=me).status_code for _ in range(5)] == \
            [200, 200, 200, 200, 402]
