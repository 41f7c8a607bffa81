"""The Stripe webhook as a plain ASGI app: `skene-cdc serve` runs it with uvicorn, or mount it in
your own app:

    app.mount("/stripe", stripe_webhook_app("skene.yaml"))      # POST /stripe/webhook

Routes (relative to where it is mounted): POST /webhook and POST /stripe/webhook, GET /healthz.
The body is verified with `stripe.Webhook.construct_event` against `stripe.webhook_secret`
before anything is read from it; a bad or stale signature answers 400 and changes nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import psycopg
import stripe

from skene_cdc.billing.events import Outcome, StripeProcessor
from skene_cdc.config import Config, load_config
from skene_cdc.db import connect, require_schema
from skene_cdc.errors import ConfigError, SkeneError
from skene_cdc.freemium.meter import client as meter_client
from skene_cdc.freemium.meter import redis_config
from skene_cdc.freemium.rules import build_rules

log = logging.getLogger("skene.stripe")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
MAX_BODY = 1 << 20  # Stripe events are a few KB; refuse megabytes of anything else
WEBHOOK_PATHS = ("/webhook", "/stripe/webhook")


class StripeWebhookApp:
    def __init__(self, config: Config, database_url: str, *, redis_url: str | None = None,
                 tolerance: int = 300) -> None:
        if config.stripe is None:
            raise ConfigError("the Stripe webhook needs a `stripe:` section",
                              where=config.source,
                              hint="Add `stripe: {webhook_secret: ${STRIPE_WEBHOOK_SECRET}}`")
        if not config.stripe.webhook_secret:
            raise ConfigError("stripe.webhook_secret is empty", where=config.where("stripe"),
                              hint="Set it to the endpoint's signing secret (whsec_...)")
        self.config = config
        self.secret = config.stripe.webhook_secret
        self.database_url = database_url
        self.tolerance = tolerance
        # The plan cache lives where the gate reads it; without freemium loops there is none.
        rc = redis_config(config)
        timeout = rc.timeout.total_seconds()
        self.redis = (meter_client(redis_url or rc.url, timeout)
                      if redis_url or config.redis or build_rules(config) else None)
        self.processor = StripeProcessor(config, self.redis)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = _route_path(scope)
        if path == "/healthz" and scope["method"] in ("GET", "HEAD"):
            await _respond(send, 200, {"ok": True})
            return
        if path not in WEBHOOK_PATHS:
            await _respond(send, 404, {"error": "not found"})
            return
        if scope["method"] != "POST":
            await _respond(send, 405, {"error": "POST only"}, [(b"allow", b"POST")])
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, {"error": "body too large"})
            return
        signature = _header(scope, b"stripe-signature")
        status, payload = await asyncio.to_thread(self.handle, body, signature)
        await _respond(send, status, payload)

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify, then process. 400: not from Stripe (nothing changed). 500: try again later."""
        try:
            stripe.Webhook.construct_event(body, signature, self.secret, tolerance=self.tolerance)
            event = json.loads(body)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            log.warning("stripe: rejected a webhook: %s", str(exc).split(".")[0])
            return 400, {"error": "invalid signature or payload"}
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            return 400, {"error": "not a Stripe event"}
        try:
            outcome = self.process(event)
        except (psycopg.Error, SkeneError) as exc:
            # Stripe retries non-2xx answers for days; the event is recorded only on success.
            log.error("stripe: could not process %s: %s", event.get("id"), exc)
            return 500, {"error": "could not process the event; it will be retried"}
        if not outcome.duplicate:
            log.info("stripe: %s %s user=%s plan=%s%s", outcome.type, outcome.event_id,
                     outcome.user_id, outcome.plan,
                     f" converted enrolment {outcome.converted}" if outcome.converted else "")
        return 200, outcome.as_json()

    def process(self, event: dict[str, Any]) -> Outcome:
        with connect(self.database_url) as conn:
            return self.processor.process(conn, event)

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()


def stripe_webhook_app(config: Config | str | os.PathLike[str] | None = None,
                       database_url: str | None = None, *,
                       redis_url: str | None = None) -> StripeWebhookApp:
    """The webhook app from skene.yaml (default $SKENE_CONFIG or ./skene.yaml) and
    $DATABASE_URL; checks that skene is migrated into that database."""
    cfg = config if isinstance(config, Config) else load_config(
        Path(config or os.environ.get("SKENE_CONFIG", "skene.yaml")))
    url = database_url or os.environ.get("DATABASE_URL")
    if not url:
        raise SkeneError("the Stripe webhook needs the database",
                         hint="Pass database_url or set DATABASE_URL")
    with connect(url) as conn:
        require_schema(conn)
    return StripeWebhookApp(cfg, url, redis_url=redis_url)


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path.rstrip("/") or "/"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: dict[str, Any],
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message: MutableMapping[str, Any] = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
