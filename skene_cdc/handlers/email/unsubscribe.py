"""One-click unsubscribe (RFC 8058): the signed link in every growth email, and its headers.

A link is `<email.unsubscribe.url>?token=<token>`. The token names the user, the scope ("all"
growth email, or "loop:<name>") and an expiry, and carries an HMAC-SHA256 over them with the
key from `email.unsubscribe.secret` (or SKENE_UNSUBSCRIBE_SECRET): without the key nobody can
make one for another user or scope, or stretch its expiry. The endpoint that answers it is
skene_cdc/web/unsubscribe.py.

Growth email gets `List-Unsubscribe: <https link>` (plus `<mailto:...>` when configured) and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`. Without `email.unsubscribe` there is no
one-click endpoint: the link and the header fall back to `mailto:` (someone must record what
arrives there, e.g. with `skene-cdc suppress add`), and `check` says so. A loop marked
`transactional: true` gets no header.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from skene_cdc.config import Config
from skene_cdc.errors import ConfigError, SkeneError

SECRET_ENV = "SKENE_UNSUBSCRIBE_SECRET"
MIN_SECRET = 32  # characters: a short key could be guessed offline from any token
_DOMAIN = b"skene-unsubscribe-v1\x1f"  # so this key signs nothing else by accident
ONE_CLICK = "List-Unsubscribe=One-Click"


class InvalidToken(SkeneError):
    """A token that was not made with our key, was altered, or has expired."""


@dataclass(frozen=True)
class Grant:
    """What a verified token allows: opting this user out of this scope."""

    user_id: str
    scope: str  # "all" | "loop:<name>"
    expires_at: datetime

    @property
    def loop(self) -> str | None:
        return self.scope[5:] if self.scope.startswith("loop:") else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _DOMAIN + payload.encode(), hashlib.sha256).digest()


def sign(key: bytes, user_id: str, scope: str, expires_at: datetime) -> str:
    payload = _b64(f"{user_id}\x1f{scope}\x1f{int(expires_at.timestamp())}".encode())
    return f"{payload}.{_b64(_mac(key, payload))}"


def verify(key: bytes, token: str, now: datetime | None = None) -> Grant:
    """The grant in `token`, or InvalidToken saying (to the log, not the visitor) why not."""
    payload, dot, mac = token.strip().partition(".")
    if not dot or not payload or not mac or len(token) > 2048:
        raise InvalidToken("the token is not in skene's format")
    try:
        given = _unb64(mac)
        fields = _unb64(payload).decode()
    except (binascii.Error, ValueError):
        raise InvalidToken("the token is not in skene's format") from None
    if not hmac.compare_digest(given, _mac(key, payload)):
        raise InvalidToken("the token's signature does not match (forged, altered, or signed "
                           "with another key)")
    try:
        user_id, scope, expiry = fields.split("\x1f")
        expires_at = datetime.fromtimestamp(int(expiry), UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidToken("the token's fields are malformed") from None
    if expires_at <= (now or datetime.now(UTC)):
        raise InvalidToken(f"the token expired on {expires_at:%Y-%m-%d}")
    return Grant(user_id, scope, expires_at)


def secret_key(config: Config, env: Mapping[str, str] | None = None) -> bytes:
    """The signing key, or ConfigError naming where to set it."""
    settings = config.email.unsubscribe
    where = config.where("email", "unsubscribe")
    env = os.environ if env is None else env
    value = (settings.secret if settings and settings.secret else None) or env.get(SECRET_ENV)
    if not value:
        raise ConfigError(
            f"email.unsubscribe has no signing key: set email.unsubscribe.secret or {SECRET_ENV}",
            where=where, hint=f"e.g. export {SECRET_ENV}=$(openssl rand -hex 32), in the "
                              "environment of both `listen` and `serve`")
    if len(value) < MIN_SECRET:
        raise ConfigError(f"the unsubscribe signing key is {len(value)} characters; it needs at "
                          f"least {MIN_SECRET}", where=where,
                          hint="Use a random key, e.g. `openssl rand -hex 32`")
    return value.encode()


def mailto_address(config: Config) -> str:
    """Where a `mailto:` unsubscribe goes: email.unsubscribe.mailto, else reply_to, else from."""
    settings = config.email.unsubscribe
    if settings and settings.mailto:
        return settings.mailto
    return email.utils.parseaddr(config.email.reply_to or config.email.from_)[1]


def scope_for(config: Config, loop: str) -> str:
    settings = config.email.unsubscribe
    return f"loop:{loop}" if settings and settings.scope == "loop" else "all"


@dataclass(frozen=True)
class Link:
    url: str                   # what `{{ unsubscribe_url }}` renders as
    headers: dict[str, str]    # List-Unsubscribe (+ -Post); empty for transactional email


class Links:
    """Each delivery's unsubscribe link and headers, made when it is first rendered and stored
    with the render (a retry re-sends the same bytes)."""

    def __init__(self, config: Config, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.settings = config.email.unsubscribe
        self.key = secret_key(config, env) if self.settings else None
        self.transactional = {lp.name for lp in config.loops if lp.transactional}
        address = mailto_address(config)
        self.mailto = f"mailto:{address}?subject=unsubscribe" if address else None

    def for_delivery(self, row: Mapping[str, Any], now: datetime | None = None) -> Link:
        loop, user_id = str(row["loop"]), str(row["user_id"])
        if self.settings is None or self.key is None:
            url = self.mailto or ""
            headers = {"List-Unsubscribe": f"<{url}>"} if url else {}
        else:
            expires = (now or datetime.now(UTC)) + self.settings.expires
            token = sign(self.key, user_id, scope_for(self.config, loop), expires)
            sep = "&" if "?" in self.settings.url else "?"
            url = f"{self.settings.url}{sep}token={quote(token)}"
            targets = [f"<{url}>"]
            if self.settings.mailto:
                targets.append(f"<{self.mailto}>")
            headers = {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK}
        if loop in self.transactional:
            headers = {}
        return Link(url, headers)
