"""The same gate in a Flask app (extension and wsgi_app wrapper) and a Django app (middleware)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import path
from flask import Flask, g, request

from skene_cdc.freemium.flask import Freemium
from skene_cdc.freemium.gate import Gate
from skene_cdc.freemium.wsgi import FreemiumWSGI
from tests.freemium_support import freemium_config
from tests.pgcluster import RedisServer

MESSAGE = "You've reached your free tier limit. Upgrade to continue."


def feature(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"used": name, "method": request.method})


urlpatterns = [path("api/features/<str:name>", feature), path("api/other", feature,
                                                              {"name": "other"})]

if not settings.configured:
    settings.configure(DEBUG=False, SECRET_KEY="test", ROOT_URLCONF=__name__,
                       ALLOWED_HOSTS=["testserver"], INSTALLED_APPS=[],
                       MIDDLEWARE=["skene_cdc.freemium.django.FreemiumMiddleware"])
    django.setup()


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.before_request
    def authenticate() -> None:
        g.user_id = request.headers.get("X-User")

    @app.route("/api/features/<name>", methods=["GET", "POST"])
    def use(name: str) -> dict[str, Any]:
        return {"used": name}

    @app.route("/api/other", methods=["POST"])
    def other() -> dict[str, Any]:
        return {"other": True}

    return app


def assert_blocked(status: int, body: bytes, headers: Any) -> None:
    assert status == 402
    data = json.loads(body)
    assert data["error"] == MESSAGE and data["limit"] == 3 and data["used"] == 3
    assert int(headers["Retry-After"]) > 0


@pytest.mark.parametrize("style", ["extension", "wsgi_app"])
def test_flask(style: str, redis_server: RedisServer, tmp_path: Path) -> None:
    cfg = freemium_config(tmp_path, redis_server.url, limit=3)
    app = flask_app()
    if style == "extension":
        Freemium(app, config=cfg, user_id=lambda: g.get("user_id"))
    else:
        app.wsgi_app = FreemiumWSGI(app.wsgi_app, config=cfg,  # type: ignore[method-assign]
                                    user_id=lambda environ: environ.get("HTTP_X_USER"))
    client = app.test_client()
    me = {"X-User": "5"}
    for _ in range(3):
        assert client.post("/api/features/a", headers=me).status_code == 200
        assert client.get("/api/features/a", headers=me).status_code == 200
        assert client.post("/api/other", headers=me).status_code == 200
    r = client.post("/api/features/b", headers=me)
    assert_blocked(r.status_code, r.data, r.headers)
    assert client.post("/api/features/b").status_code == 200  # no user: not metered
    assert client.post("/api/features/b", headers={"X-User": "6"}).status_code == 200


def test_django(redis_server: RedisServer, tmp_path: Path) -> None:
    cfg = freemium_config(tmp_path, redis_server.url, limit=3)
    gate = Gate.from_config(cfg)
    opts = {"gate": gate, "user_id": lambda req: req.headers.get("X-User")}
    with override_settings(SKENE_FREEMIUM=opts):
        client = DjangoClient()
        me = {"HTTP_X_USER": "9"}
        for _ in range(3):
            assert client.post("/api/features/a", **me).status_code == 200  # type: ignore[arg-type]
            assert client.get("/api/features/a", **me).status_code == 200  # type: ignore[arg-type]
            assert client.post("/api/other", **me).status_code == 200  # type: ignore[arg-type]
        r = client.post("/api/features/b", **me)  # type: ignore[arg-type]
        assert_blocked(r.status_code, r.content, r.headers)
        assert client.post("/api/features/b").status_code == 200
    assert gate.meter.redis.xlen(gate.meter.stream) == 4  # 3 counted + 1 blocked, nothing else
