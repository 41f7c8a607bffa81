"""WSGI middleware for any WSGI app (Flask's `app.wsgi_app`, Django's WSGIHandler, Bottle...):

    app.wsgi_app = FreemiumWSGI(app.wsgi_app, config="skene.yaml",
                                user_id=lambda environ: user_from_token(environ))

`user_id(environ)` returns the user's id, or None to let the request through unmetered. For
Flask, `skene_cdc.freemium.flask.Freemium` is usually nicer: its callable runs inside the request
context, after your auth."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from skene_cdc.config import Config
from skene_cdc.freemium.gate import Gate

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

REASONS = {402: "402 Payment Required", 503: "503 Service Unavailable"}


def gate_for(gate: Gate | None, config: Config | str | os.PathLike[str] | None,
             redis_url: str | None, database_url: str | None, fail_open: bool | None) -> Gate:
    return gate or Gate.from_config(
        config if config is not None else os.environ.get("SKENE_CONFIG", "skene.yaml"),
        redis_url=redis_url, database_url=database_url, fail_open=fail_open)


class FreemiumWSGI:
    def __init__(self, app: WSGIApp, *, user_id: Callable[[dict[str, Any]], str | int | None],
                 gate: Gate | None = None, config: Config | str | os.PathLike[str] | None = None,
                 redis_url: str | None = None, database_url: str | None = None,
                 fail_open: bool | None = None) -> None:
        self.app = app
        self.user_id = user_id
        self.gate = gate_for(gate, config, redis_url, database_url, fail_open)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        rules = self.gate.match(method, path)
        if rules:
            uid = self.user_id(environ)
            if uid is not None:
                verdict = self.gate.check(str(uid), method, path, rules)
                if verdict is not None:
                    start_response(REASONS.get(verdict.status, str(verdict.status)),
                                   verdict.all_headers())
                    return [verdict.content()]
        return self.app(environ, start_response)
