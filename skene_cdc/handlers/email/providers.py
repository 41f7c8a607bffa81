"""Email providers: `resend` (the official SDK), `smtp` (smtplib), `console` (stdout).

A provider sends one message and returns the provider's message id, or raises `SendError`
saying whether a retry can help (5xx, 429, network) or not (any other 4xx). Every send carries
the delivery's idempotency key, so a retry after a crash is the same send, not a second one.
Secrets (API key, SMTP password) never appear in errors or logs.
"""

from __future__ import annotations

import email.utils
import os
import smtplib
import ssl
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from skene_cdc.errors import ConfigError

PROVIDERS = ("resend", "smtp", "console")


@dataclass(frozen=True)
class Message:
    sender: str
    to: str
    subject: str
    html: str
    text: str | None
    idempotency_key: str
    reply_to: str | None = None
    # Extra headers, e.g. List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
    headers: tuple[tuple[str, str], ...] = ()


class SendError(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 rate_limited: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class Provider(Protocol):
    name: str

    def send(self, message: Message) -> str: ...


def credential_problem(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """What is missing for provider `name`, naming the variable and never its value."""
    env = os.environ if env is None else env
    if name == "resend" and not env.get("RESEND_API_KEY"):
        return "RESEND_API_KEY is not set (the resend provider needs it)"
    if name == "smtp":
        if not env.get("SMTP_URL"):
            return "SMTP_URL is not set (the smtp provider needs it, e.g. smtp://localhost:1025)"
        try:
            SmtpTarget.parse(env["SMTP_URL"])
        except ConfigError as exc:
            return exc.message
    if name not in PROVIDERS:
        return f"unknown email provider {name!r} (known: {', '.join(PROVIDERS)})"
    return None


def build_provider(name: str, *, timeout: float = 30.0,
                   env: Mapping[str, str] | None = None) -> Provider:
    env = os.environ if env is None else env
    problem = credential_problem(name, env)
    if problem:
        raise ConfigError(problem, where="environment",
                          hint="Set it in the environment of `skene-cdc listen`")
    if name == "resend":
        from skene_cdc.handlers.email.resend_provider import ResendProvider

        return ResendProvider(env["RESEND_API_KEY"], env.get("RESEND_API_URL") or None, timeout)
    if name == "smtp":
        return SmtpProvider(SmtpTarget.parse(env["SMTP_URL"]), timeout)
    return ConsoleProvider()


# --- resend: see resend_provider.py, imported on first use (the SDK is slow to import) ---


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    for key, value in (headers or {}).items():
        if key.lower() != "retry-after":
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


# --- smtp -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    tls: str  # "none" | "starttls" | "ssl"
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """smtp://[user:pass@]host[:port][?starttls=true], smtp+starttls://…, smtps://…"""
        parts = urlsplit(url)
        tls = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "ssl"}.get(parts.scheme)
        if tls is None or not parts.hostname:
            raise ConfigError("SMTP_URL must look like smtp://host:port, smtp+starttls://user:"
                              "pass@host:587 or smtps://host:465", where="environment")
        flag = parse_qs(parts.query).get("starttls", [""])[0].lower()
        if tls == "none" and flag in {"1", "true", "yes"}:
            tls = "starttls"
        default_port = {"none": 25, "starttls": 587, "ssl": 465}[tls]
        return cls(parts.hostname, parts.port or default_port, tls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


class SmtpProvider:
    name = "smtp"

    def __init__(self, target: SmtpTarget, timeout: float) -> None:
        self.target = target
        self.timeout = timeout

    def message_id(self, message: Message) -> str:
        # Derived from the idempotency key: a retried send carries the same Message-ID, so a
        # receiving system that dedupes on it shows one email. (SMTP itself cannot dedupe.)
        domain = email.utils.parseaddr(message.sender)[1].rpartition("@")[2] or "skene-cdc"
        return f"<{message.idempotency_key}@{domain}>"

    def build(self, message: Message) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = message.sender
        msg["To"] = message.to
        msg["Subject"] = message.subject
        msg["Message-ID"] = self.message_id(message)
        msg["Date"] = email.utils.formatdate(localtime=False)
        if message.reply_to:
            msg["Reply-To"] = message.reply_to
        for name, value in message.headers:
            msg[name] = value
        msg.set_content(message.text if message.text is not None else message.html,
                        subtype="plain" if message.text is not None else "html")
        if message.text is not None:
            msg.add_alternative(message.html, subtype="html")
        return msg

    def send(self, message: Message) -> str:
        t = self.target
        msg = self.build(message)
        try:
            if t.tls == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            with client:
                if t.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if t.username:
                    client.login(t.username, t.password or "")
                client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendError(f"smtp: recipient refused {codes}",
                            retryable=any(400 <= c < 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
                else str(exc.smtp_error)
            if t.password:
                reply = reply.replace(t.password, "***")
            raise SendError(f"smtp {exc.smtp_code}: {reply}",
                            retryable=400 <= exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"smtp: {type(exc).__name__}: {exc}", retryable=True) from None
        return self.message_id(message)


# --- console ----------------------------------------------------------------------------------

_print_lock = threading.Lock()


# Where the console provider's emails go instead of stdout, when set: `skene-cdc demo` prints
# them in its own compact layout.
console_sink: Callable[[Message], None] | None = None


class ConsoleProvider:
    """Prints the email; what `demo` uses, and a dry run for anyone."""

    name = "console"

    def send(self, message: Message) -> str:
        if console_sink is not None:
            console_sink(message)
            return f"console-{message.idempotency_key}"
        body = message.text if message.text is not None else message.html
        out = (f"--- email (console) ---\nFrom: {message.sender}\nTo: {message.to}\n"
               f"Subject: {message.subject}\nIdempotency-Key: {message.idempotency_key}\n"
               + "".join(f"{k}: {v}\n" for k, v in message.headers) + "\n"
               f"{body.rstrip()}\n--- end ---\n")
        with _print_lock:
            sys.stdout.write(out)
            sys.stdout.flush()
        return f"console-{message.idempotency_key}"
