"""The Stripe webhook as a plain ASGI app: `skene-cdc serve` runs it with uvicorn, or mount it in
your own app:

    app.mount("/stripe", stripe_webhook_app("skene.yaml"))      # POST /stripe/webhook

Routes (relative to where it is mounted): POST /webhook and POST /stripe/webhook, GET /healthz.
The body's signature is verified (`stripe.WebhookSignature.verify_header`, against
`stripe.webhook_secret`, with the timestamp within the tolerance both ways) before anything is
read from it; then it must be a Stripe event skene can use (billing/payload.py). Either failing
answers 400 with the reason and changes nothing."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import psycopg
import stripe

from skene_cdc.asgi import Receive, Scope, Send, header, lifespan, read_body, respond, route_path
from skene_cdc.billing.events import Outcome, StripeProcessor
from skene_cdc.billing.objects import Fetched
from skene_cdc.billing.payload import MalformedEvent, parse_text
from skene_cdc.billing.refetch import Refetcher
from skene_cdc.billing.users import check_stripe_config
from skene_cdc.config import Config, load_config
from skene_cdc.db import connect, require_schema
from skene_cdc.errors import ConfigError, SkeneError, first_line
from skene_cdc.freemium.meter import client as meter_client
from skene_cdc.freemium.meter import redis_config
from skene_cdc.freemium.rules import build_rules

log = logging.getLogger("skene.stripe")
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
        check_stripe_config(config)
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
        self.refetcher = (Refetcher(config.stripe.api_key)
                          if config.stripe.refetch and config.stripe.api_key else None)

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
        if path not in WEBHOOK_PATHS:
            await respond(send, 404, {"error": "not found"})
            return
        if scope["method"] != "POST":
            await respond(send, 405, {"error": "POST only"}, [(b"allow", b"POST")])
            return
        body = await read_body(receive)
        if body is None:
            await respond(send, 413, {"error": "body too large"})
            return
        signature = header(scope, b"stripe-signature")
        status, payload = await asyncio.to_thread(self.handle, body, signature)
        await respond(send, status, payload)

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify, read, process. 400: not from Stripe, or not an event skene can use (nothing
        changed; the reason is in the answer). 500: try again later."""
        try:
            event = self.verify(body, signature)
        except Refused as exc:
            log.warning("stripe: refused a webhook: %s", exc.reason)
            return 400, {"error": exc.reason}
        except MalformedEvent as exc:
            return self.malformed(exc.reason)
        try:
            fetched = (self.refetcher.fetch(self.processor.reader, event)
                       if self.refetcher else None)
            outcome = self.process(event, fetched)
        except MalformedEvent as exc:
            return self.malformed(exc.reason, event)
        except psycopg.DataError as exc:
            # A value PostgreSQL refuses will be refused on every retry too.
            return self.malformed(f"the database refused a value in it ({first_line(exc)})",
                                  event)
        except (psycopg.Error, SkeneError) as exc:
            # Stripe retries non-2xx answers for days; the event is recorded only on success.
            log.error("stripe: could not process %s: %s", event["id"], first_line(exc))
            return 500, {"error": "could not process the event; it will be retried"}
        except Exception as exc:  # a bug: one line in the log, the traceback with SKENE_DEBUG=1
            log.error("stripe: could not process %s: %s: %s (set SKENE_DEBUG=1 for the "
                      "traceback)", event["id"], type(exc).__name__, first_line(exc),
                      exc_info=bool(os.environ.get("SKENE_DEBUG")))
            return 500, {"error": "could not process the event; it will be retried"}
        if not outcome.duplicate:
            log.info("stripe: %s %s user=%s plan=%s%s", outcome.type, outcome.event_id,
                     outcome.user_id, outcome.plan,
                     f" converted enrolment {outcome.converted}" if outcome.converted else "")
        return 200, outcome.as_json()

    def verify(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """The event in a body Stripe signed within the tolerance, either way: Stripe's SDK
        only refuses old timestamps, and a timestamp far in the future would make a captured
        request replayable for that long."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEvent("the body is not UTF-8 text") from None
        try:
            stripe.WebhookSignature.verify_header(text, signature, self.secret, tolerance=None)
        except stripe.SignatureVerificationError as exc:
            raise Refused(f"invalid Stripe-Signature ({str(exc).split('.')[0]})") from None
        try:
            skew = _signed_at(signature or "") - int(time.time())
        except ValueError:
            raise Refused("invalid Stripe-Signature (its timestamp is not a number)") from None
        if abs(skew) > self.tolerance:
            when = "in the future" if skew > 0 else "in the past"
            raise Refused(f"the signature timestamp is {abs(skew)} s {when}, outside the "
                          f"{self.tolerance} s tolerance (a replay, or this server's clock is "
                          "wrong)")
        return parse_text(text)

    def malformed(self, reason: str, event: dict[str, Any] | None = None
                  ) -> tuple[int, dict[str, Any]]:
        what = f"{event['type']} {event['id']}" if event else "a signed webhook"
        log.warning("stripe: refused %s: %s", what, reason)
        return 400, {"error": f"malformed event: {reason}"}

    def process(self, event: dict[str, Any], fetched: Fetched | None = None) -> Outcome:
        with connect(self.database_url) as conn:
            return self.processor.process(conn, event, fetched)

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


class Refused(Exception):
    """Not (provably) from Stripe: a bad signature, or a timestamp outside the tolerance."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _signed_at(signature: str) -> int:
    """The header's `t=`, read as Stripe's SDK reads it (it has verified the header by now)."""
    for item in signature.split(","):
        parts = item.split("=", 2)
        if parts[0] == "t" and len(parts) > 1:
            return int(parts[1])
    return 0
