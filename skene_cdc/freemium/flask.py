"""Flask extension:

    freemium = Freemium(app, config="skene.yaml", user_id=lambda: g.user.id if g.user else None)

or `Freemium(config=..., user_id=...).init_app(app)`. The check runs as a `before_request` hook,
so `user_id()` is called inside the request context (flask.request, flask.g, flask_login's
current_user all work) and the view never runs for a blocked request."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from skene_cdc.config import Config
from skene_cdc.freemium.gate import Gate
from skene_cdc.freemium.wsgi import gate_for


class Freemium:
    def __init__(self, app: Any = None, *, user_id: Callable[[], str | int | None],
                 gate: Gate | None = None, config: Config | str | os.PathLike[str] | None = None,
                 redis_url: str | None = None, database_url: str | None = None,
                 fail_open: bool | None = None) -> None:
        self.user_id = user_id
        self.gate = gate_for(gate, config, redis_url, database_url, fail_open)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        app.extensions["skene_freemium"] = self
        app.before_request(self._before_request)

    def _before_request(self) -> Any:
        from flask import request

        rules = self.gate.match(request.method, request.path)
        if not rules:
            return None
        uid = self.user_id()
        if uid is None:
            return None
        verdict = self.gate.check(str(uid), request.method, request.path, rules)
        if verdict is None:
            return None
        return verdict.content(), verdict.status, verdict.all_headers()
