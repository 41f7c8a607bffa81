"""ASGI middleware (FastAPI, Starlette, any ASGI app):

    app.add_middleware(FreemiumMiddleware, config="skene.yaml", user_id=current_user_id)

`user_id(request)` gets a `starlette.requests.Request` (headers, cookies, path; the body is not
read) and returns the user's id, or None to let the request through unmetered; it may be async.
Requests that match no metered loop never reach Redis; matching ones under the limit pass
untouched."""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from skene_cdc.config import Config
from skene_cdc.freemium.gate import Gate, Verdict

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UserId = Callable[[Request], "str | int | None | Awaitable[str | int | None]"]


class FreemiumMiddleware:
    def __init__(self, app: ASGIApp, *, user_id: UserId, gate: Gate | None = None,
                 config: Config | str | os.PathLike[str] | None = None,
                 redis_url: str | None = None, database_url: str | None = None,
                 fail_open: bool | None = None) -> None:
        self.app = app
        self.user_id = user_id
        self.gate = gate or Gate.from_config(
            config if config is not None else os.environ.get("SKENE_CONFIG", "skene.yaml"),
            redis_url=redis_url, database_url=database_url, fail_open=fail_open)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        rules = self.gate.match(method, path)
        if not rules:
            await self.app(scope, receive, send)
            return
        uid = self.user_id(Request(scope))
        if inspect.isawaitable(uid):
            uid = await uid
        if uid is None:
            await self.app(scope, receive, send)
            return
        verdict = await self.gate.acheck(str(uid), method, path, rules)
        if verdict is None:
            await self.app(scope, receive, send)
            return
        await send_verdict(send, verdict)


async def send_verdict(send: Send, verdict: Verdict) -> None:
    await send({"type": "http.response.start", "status": verdict.status,
                "headers": [(k.encode(), v.encode()) for k, v in verdict.all_headers()]})
    await send({"type": "http.response.body", "body": verdict.content()})
