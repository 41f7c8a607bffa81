"""The `resend` provider: the official SDK, with `RESEND_API_KEY` and `RESEND_API_URL`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import requests
import resend
from resend.exceptions import ResendError
from resend.http_client import HTTPClient

from skene_cdc.handlers.email.providers import Message, SendError, retry_after_seconds

DEFAULT_RESEND_URL = "https://api.resend.com"


class _SessionClient(HTTPClient):
    """The SDK's default client opens a new connection per request; one keep-alive session per
    sender thread saves a TCP (and TLS) handshake on every send."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._local = threading.local()

    def request(self, method: str, url: str, headers: Mapping[str, str],
                json: dict[str, object] | list[object] | None = None,
                files: dict[str, Any] | None = None, data: dict[str, str] | None = None,
                ) -> tuple[bytes, int, Mapping[str, str]]:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            resp = session.request(method, url, headers=headers, files=files, data=data,
                                   json=json,  # type: ignore[arg-type]
                                   timeout=self._timeout)
        except requests.RequestException as exc:
            # The SDK turns this into a ResendError(500, "HttpClientError"): retryable.
            raise RuntimeError(f"request failed: {type(exc).__name__}") from None
        return resp.content, resp.status_code, resp.headers


class ResendProvider:
    name = "resend"

    def __init__(self, api_key: str, api_url: str | None, timeout: float) -> None:
        # The SDK reads RESEND_API_URL once, at import; set it from the environment we were
        # given now, so a process (or test) that sets the variable later is still honoured.
        resend.api_key = api_key
        resend.api_url = (api_url or DEFAULT_RESEND_URL).rstrip("/")
        resend.default_http_client = _SessionClient(timeout)
        self._secret = api_key

    def send(self, message: Message) -> str:
        params: dict[str, Any] = {"from": message.sender, "to": [message.to],
                                  "subject": message.subject, "html": message.html}
        if message.text is not None:
            params["text"] = message.text
        if message.reply_to:
            params["reply_to"] = message.reply_to
        if message.headers:
            params["headers"] = dict(message.headers)
        try:
            resp = resend.Emails.send(params,  # type: ignore[arg-type]
                                      options={"idempotency_key": message.idempotency_key})
        except ResendError as exc:
            raise self._classify(exc) from None
        return str(resp["id"])

    def _classify(self, exc: ResendError) -> SendError:
        try:
            code = int(exc.code)
        except (TypeError, ValueError):
            code = 500
        kind = str(exc.error_type)
        text = f"resend {code} {kind}: {exc.message}".replace(self._secret, "***")
        if code == 429:
            return SendError(text, retryable=True, rate_limited=True,
                             retry_after=retry_after_seconds(exc.headers))
        # Another request with this key is still in flight (e.g. a crashed sender's): wait.
        retryable = code >= 500 or kind in {"HttpClientError", "concurrent_idempotent_requests"}
        return SendError(text, retryable=retryable)
