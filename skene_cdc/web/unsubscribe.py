"""The one-click unsubscribe endpoint (RFC 8058) as a plain ASGI app, served by `skene-cdc serve`
or mounted in the app (see skene_cdc/web/app.py):

    GET  /unsubscribe?token=...   a confirmation page with a button; changes nothing (mail
                                  scanners and link previews fetch GETs)
    POST /unsubscribe?token=...   records the opt-out: what a mail client sends for
                                  `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, and what
                                  the page's button sends (`scope=all` widens a loop's link to
                                  every growth email)

A token that is forged, altered or expired is refused (400) and nothing is recorded. A second
click is harmless: an active opt-out for the same user and scope is kept as it was."""

from __future__ import annotations

import asyncio
import email.utils
import html
import logging
from collections.abc import Mapping
from urllib.parse import parse_qs, quote

import psycopg

from skene_cdc.asgi import Receive, Scope, Send, lifespan, read_body, route_path
from skene_cdc.config import Config
from skene_cdc.db import connect
from skene_cdc.errors import ConfigError, SkeneError, first_line
from skene_cdc.handlers.email import suppression
from skene_cdc.handlers.email.unsubscribe import ONE_CLICK, Grant, InvalidToken, secret_key, verify

log = logging.getLogger("skene.email")
PATHS = ("/unsubscribe",)


class UnsubscribeApp:
    paths = PATHS

    def __init__(self, config: Config, database_url: str,
                 env: Mapping[str, str] | None = None) -> None:
        if config.email.unsubscribe is None:
            raise ConfigError("the unsubscribe endpoint needs `email.unsubscribe`",
                              where=config.where("email"),
                              hint="Add email.unsubscribe: {url: https://.../unsubscribe} and "
                                   "a signing key (docs/email.md#compliance)")
        self.config = config
        self.key = secret_key(config, env)
        self.database_url = database_url
        name, address = email.utils.parseaddr(config.email.from_)
        self.sender = name or address or "us"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if route_path(scope) not in self.paths:
            await _page(send, 404, "Not found", "<p>There is nothing here.</p>")
            return
        query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
        token = (query.get("token") or [""])[0]
        method = scope["method"]
        if method in ("GET", "HEAD"):
            status, title, body = self.confirm(token)
        elif method == "POST":
            raw = await read_body(receive) or b""
            form = parse_qs(raw[:4096].decode("utf-8", "replace"))
            token = token or (form.get("token") or [""])[0]
            one_click = ONE_CLICK in raw.decode("utf-8", "replace")
            wide = (form.get("scope") or [""])[0] == "all"
            status, title, body = await asyncio.to_thread(self.unsubscribe, token, one_click,
                                                          wide)
        else:
            await _page(send, 405, "Method not allowed", "<p>GET or POST only.</p>",
                        [(b"allow", b"GET, POST")])
            return
        await _page(send, status, title, body)

    def grant(self, token: str) -> Grant | None:
        try:
            return verify(self.key, token)
        except InvalidToken as exc:
            log.warning("unsubscribe: refused a link: %s", exc.message)
            return None

    def confirm(self, token: str) -> tuple[int, str, str]:
        grant = self.grant(token)
        if grant is None:
            return self.refused()
        action = html.escape(f"?token={quote(token)}")
        buttons = [f'<button name="scope" value="link">Unsubscribe from {self.what(grant)}'
                   "</button>"]
        if grant.loop is not None:
            buttons.append('<button name="scope" value="all">Unsubscribe from all of them'
                           "</button>")
        return 200, "Unsubscribe", (
            f"<p>Stop receiving {html.escape(self.what(grant))} from "
            f"{html.escape(self.sender)}?</p>"
            f'<form method="post" action="{action}">{" ".join(buttons)}</form>')

    def unsubscribe(self, token: str, one_click: bool, wide: bool) -> tuple[int, str, str]:
        grant = self.grant(token)
        if grant is None:
            return self.refused()
        scope = "all" if wide else grant.scope
        try:
            with connect(self.database_url) as conn:
                new = suppression.add(conn, reason="unsubscribe", user_id=grant.user_id,
                                      scope=scope, source="one-click" if one_click else "page")
        except (psycopg.Error, SkeneError) as exc:
            log.error("unsubscribe: could not record user %s's opt-out: %s", grant.user_id,
                      first_line(exc))
            return 503, "Try again", ("<p>We could not record this right now. Please try again "
                                      "in a minute.</p>")
        if new:
            log.info("unsubscribe: user %s opted out (%s)", grant.user_id, scope)
        shown = self.what(Grant(grant.user_id, scope, grant.expires_at))
        return 200, "Unsubscribed", (
            f"<p>You are unsubscribed: no more {html.escape(shown)} from "
            f"{html.escape(self.sender)}.</p>")

    def what(self, grant: Grant) -> str:
        return f"“{grant.loop}” emails" if grant.loop else "emails like this one"

    def refused(self) -> tuple[int, str, str]:
        settings = self.config.email.unsubscribe
        contact = f" or write to {html.escape(settings.mailto)}" if settings and settings.mailto \
            else ""
        return 400, "Link not valid", (
            "<p>This unsubscribe link is not valid or has expired. Use the link in a recent "
            f"email{contact}.</p>")


async def _page(send: Send, status: int, title: str, body: str,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            f"content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\">"
            f"<title>{html.escape(title)}</title></head><body style=\"font-family:sans-serif;"
            f"max-width:32em;margin:3em auto\"><h1>{html.escape(title)}</h1>{body}</body></html>")
    data = page.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(data)).encode()),
                            (b"cache-control", b"no-store"), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})
