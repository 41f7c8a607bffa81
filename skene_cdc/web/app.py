"""Everything `skene-cdc serve` answers, as one ASGI app that can also be mounted in the app:

    app.mount("/skene", skene_app("skene.yaml"))   # FastAPI / Starlette

Routes, relative to where it is mounted: POST /stripe/webhook (and /webhook) when `stripe:` is
configured; GET and POST /unsubscribe when `email.unsubscribe` is; POST /resend/webhook when
`email.resend` is; GET /healthz. Each part is also an app of its own (stripe_webhook_app,
unsubscribe_app, resend_webhook_app)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from skene_cdc.asgi import Receive, Scope, Send, lifespan, respond, route_path
from skene_cdc.billing.webhook import WEBHOOK_PATHS, StripeWebhookApp
from skene_cdc.config import Config, load_config
from skene_cdc.db import connect, require_schema
from skene_cdc.errors import ConfigError, SkeneError
from skene_cdc.web.resend import ResendWebhookApp
from skene_cdc.web.unsubscribe import UnsubscribeApp


class Part(Protocol):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class SkeneApp:
    def __init__(self, parts: Sequence[tuple[Sequence[str], Part]]) -> None:
        self.parts = list(parts)

    @property
    def paths(self) -> list[str]:
        return [p for paths, _ in self.parts for p in paths]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = route_path(scope)
        if path == "/healthz" and scope["method"] in ("GET", "HEAD"):
            await respond(send, 200, {"ok": True})
            return
        for paths, part in self.parts:
            if path in paths:
                await part(scope, receive, send)
                return
        await respond(send, 404, {"error": "not found"})


def _setup(config: Config | str | os.PathLike[str] | None, database_url: str | None,
           what: str) -> tuple[Config, str]:
    cfg = config if isinstance(config, Config) else load_config(
        Path(config or os.environ.get("SKENE_CONFIG", "skene.yaml")))
    url = database_url or os.environ.get("DATABASE_URL")
    if not url:
        raise SkeneError(f"the {what} needs the database",
                         hint="Pass database_url or set DATABASE_URL")
    with connect(url) as conn:
        require_schema(conn)
    return cfg, url


def skene_app(config: Config | str | os.PathLike[str] | None = None,
              database_url: str | None = None, *, redis_url: str | None = None,
              **_: Any) -> SkeneApp:
    """Every endpoint skene.yaml configures (default $SKENE_CONFIG or ./skene.yaml, and
    $DATABASE_URL); a ConfigError when it configures none."""
    cfg, url = _setup(config, database_url, "skene app")
    parts: list[tuple[Sequence[str], Part]] = []
    if cfg.stripe is not None:
        parts.append((WEBHOOK_PATHS, StripeWebhookApp(cfg, url, redis_url=redis_url)))
    if cfg.email.unsubscribe is not None:
        unsubscribe = UnsubscribeApp(cfg, url)
        parts.append((unsubscribe.paths, unsubscribe))
    if cfg.email.resend is not None:
        webhook = ResendWebhookApp(cfg, url)
        parts.append((webhook.paths, webhook))
    if not parts:
        raise ConfigError("skene.yaml configures nothing to serve", where=cfg.source,
                          hint="Add `stripe:` (the Stripe webhook), `email.unsubscribe` "
                               "(one-click unsubscribe) or `email.resend` (Resend's webhook)")
    return SkeneApp(parts)


def unsubscribe_app(config: Config | str | os.PathLike[str] | None = None,
                    database_url: str | None = None) -> UnsubscribeApp:
    cfg, url = _setup(config, database_url, "unsubscribe endpoint")
    return UnsubscribeApp(cfg, url)


def resend_webhook_app(config: Config | str | os.PathLike[str] | None = None,
                       database_url: str | None = None) -> ResendWebhookApp:
    cfg, url = _setup(config, database_url, "Resend webhook")
    return ResendWebhookApp(cfg, url)
