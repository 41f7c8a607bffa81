"""Resend's webhook as a plain ASGI app: POST /resend/webhook (served by `skene-cdc serve`, or
mounted in the app, see skene_cdc/web/app.py).

Resend signs each request with Svix headers (svix-id, svix-timestamp, svix-signature); the body
is verified with the resend SDK's `Webhooks.verify` against `email.resend.webhook_secret`, with
the timestamp within 5 minutes either way, before anything is read from it. A bad signature or
an old timestamp answers 400 and changes nothing; what a verified event means is
handlers/email/provider_events.py."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import psycopg
import resend

from skene_cdc.asgi import Receive, Scope, Send, header, lifespan, read_body, respond, route_path
from skene_cdc.config import Config
from skene_cdc.db import connect
from skene_cdc.errors import ConfigError, SkeneError, first_line
from skene_cdc.handlers.email import provider_events

log = logging.getLogger("skene.email")
PATHS = ("/resend/webhook",)


class ResendWebhookApp:
    paths = PATHS

    def __init__(self, config: Config, database_url: str) -> None:
        if config.email.resend is None:
            raise ConfigError("the Resend webhook needs `email.resend.webhook_secret`",
                              where=config.where("email"),
                              hint="Add email.resend: {webhook_secret: ${RESEND_WEBHOOK_SECRET}} "
                                   "(the endpoint's signing secret, whsec_...)")
        self.secret = config.email.resend.webhook_secret
        self.database_url = database_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if route_path(scope) not in self.paths:
            await respond(send, 404, {"error": "not found"})
            return
        if scope["method"] != "POST":
            await respond(send, 405, {"error": "POST only"}, [(b"allow", b"POST")])
            return
        body = await read_body(receive)
        if body is None:
            await respond(send, 413, {"error": "body too large"})
            return
        headers = {name: header(scope, name.encode()) for name in
                   ("svix-id", "svix-timestamp", "svix-signature")}
        status, payload = await asyncio.to_thread(self.handle, body, headers)
        await respond(send, status, payload)

    def handle(self, body: bytes, headers: dict[str, str | None]) -> tuple[int, dict[str, Any]]:
        """400: not signed by Resend (or too old), or not an event skene can read; nothing
        changed. 500: try again later (Resend retries)."""
        try:
            text = body.decode("utf-8")
            payload = resend.Webhooks.verify({
                "payload": text, "webhook_secret": self.secret,
                "headers": {"id": headers.get("svix-id") or "",
                            "timestamp": headers.get("svix-timestamp") or "",
                            "signature": headers.get("svix-signature") or ""}})
        except (UnicodeDecodeError, ValueError) as exc:
            reason = "the body is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) \
                else first_line(exc)
            log.warning("resend: refused a webhook: %s", reason)
            return 400, {"error": f"invalid webhook signature: {reason}"}
        try:
            event = provider_events.parse(str(headers["svix-id"]), json.loads(text)
                                          if not isinstance(payload, dict) else payload)
        except (provider_events.MalformedEvent, ValueError) as exc:
            log.warning("resend: refused a signed webhook: %s", exc)
            return 400, {"error": f"malformed event: {exc}"}
        try:
            with connect(self.database_url) as conn:
                applied = provider_events.apply(conn, event)
        except psycopg.DataError as exc:
            return 400, {"error": f"malformed event: the database refused a value in it "
                                  f"({first_line(exc)})"}
        except (psycopg.Error, SkeneError) as exc:
            log.error("resend: could not process %s: %s", event.id, first_line(exc))
            return 500, {"error": "could not process the event; it will be retried"}
        return 200, applied.as_json()
