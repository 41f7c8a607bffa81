"""A local HTTP server speaking Resend's `POST /emails`, for tests and the sender benchmark.

Like the real API: Bearer auth, JSON body, `{"id": ...}` on success, errors as
`{"statusCode", "name", "message"}`, and `Idempotency-Key`: a key already accepted returns the
same response without sending again; the same key with a different body is a 409; a key whose
first request is still in flight is a 409 `concurrent_idempotent_requests`.

Scriptable: `fail(n, status)` answers the next n sends with an error, `rate_limit(retry_after,
n)` with 429 + Retry-After, `always(status)` forever, `delay` seconds per request, and `hold()`
accepts an email but does not answer until `release()` (to kill a sender in between).
Every request is recorded in `requests`; accepted emails (one per key) in `emails`.

`python -m tests.fakes.resend_server [--delay S]` runs one in its own process (prints its URL);
`GET /_stats` then gives its counters.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    replayed: bool = False

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class _Script:
    queue: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    always: int | None = None


class FakeResend:
    def __init__(self, api_key: str = "re_test_key") -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.emails: list[dict[str, Any]] = []
        self.delay = 0.0
        self._script = _Script()
        self._done: dict[str, tuple[str, int, dict[str, Any]]] = {}  # key -> (body hash, resp)
        self._inflight: set[str] = set()
        self._lock = threading.Lock()
        self._hold: threading.Event | None = None
        self.held = threading.Event()  # set when a held request has been accepted
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeResend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeResend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------

    def fail(self, times: int, status: int = 500) -> None:
        with self._lock:
            self._script.queue.extend([(status, {})] * times)

    def rate_limit(self, retry_after: float, times: int = 1) -> None:
        with self._lock:
            self._script.queue.extend([(429, {"Retry-After": f"{retry_after:g}"})] * times)

    def always(self, status: int | None) -> None:
        with self._lock:
            self._script.always = status

    def hold(self) -> None:
        """Accept the next email, then hold its response until release()."""
        self._hold = threading.Event()
        self.held.clear()

    def release(self) -> None:
        if self._hold is not None:
            self._hold.set()
            self._hold = None

    def sends_per_key(self) -> dict[str, int]:
        """How many POSTs each idempotency key made (to prove a sender never sent twice)."""
        counts: dict[str, int] = {}
        for r in list(self.requests):
            if r.idempotency_key:
                counts[r.idempotency_key] = counts.get(r.idempotency_key, 0) + 1
        return counts

    # -- the API -----------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; without NODELAY, Nagle plus the
                # client's delayed ACK adds ~40 ms to every keep-alive request.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                # Not Resend's: counters for a fake running in another process (the bench).
                if self.path != "/_stats":
                    self._reply(*_error(404, "not_found", f"no route {self.path}"))
                    return
                with fake._lock:
                    stats = {"requests": len(fake.requests), "emails": len(fake.emails),
                             "max_sends_per_key": max(fake.sends_per_key().values(), default=0)}
                self._reply(200, stats, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                rec = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with fake._lock:
                    fake.requests.append(rec)
                status, payload, headers = fake._answer(rec, raw)
                rec.status = status
                self._reply(status, payload, headers)

            def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str]
                       ) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client died while we held the answer: that is the point

        return Handler

    def _answer(self, rec: Recorded, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.delay:
            time.sleep(self.delay)
        if rec.path.rstrip("/") != "/emails":
            return _error(404, "not_found", f"no route {rec.path}")
        if rec.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401 if "authorization" not in rec.headers else 403,
                          "invalid_api_key", "API key is invalid")
        body = rec.body
        if not isinstance(body, dict) or not body.get("to") or not body.get("from") \
                or not body.get("subject"):
            return _error(422, "missing_required_field", "to, from and subject are required")
        key = rec.idempotency_key
        digest = hashlib.sha256(raw).hexdigest()
        with self._lock:
            if key and key in self._done:
                done_digest, status, resp = self._done[key]
                if done_digest != digest:
                    return _error(409, "invalid_idempotent_request",
                                  "same idempotency key used with a different payload")
                rec.replayed = True
                return status, resp, {}
            if key and key in self._inflight:
                return _error(409, "concurrent_idempotent_requests",
                              "same idempotency key used while original request is in progress")
            scripted = self._script.queue.popleft() if self._script.queue else None
            if scripted is None and self._script.always is not None:
                scripted = (self._script.always, {})
            if scripted is not None:
                status, headers = scripted
                name = "rate_limit_exceeded" if status == 429 else "application_error"
                code, payload, _ = _error(status, name, f"scripted {status}")
                return code, payload, headers
            resp = {"id": str(uuid.uuid4())}
            self.emails.append({**body, "id": resp["id"], "idempotency_key": key})
            if key:
                self._inflight.add(key)
            hold = self._hold
        if hold is not None:
            self.held.set()
            hold.wait(60)
        with self._lock:
            if key:
                self._inflight.discard(key)
                self._done[key] = (digest, 200, resp)
        return 200, resp, {}


def _error(status: int, name: str, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"statusCode": status, "name": name, "message": message}, {}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--api-key", default="re_test_key")
    args = parser.parse_args()
    fake = FakeResend(api_key=args.api_key)
    fake.delay = args.delay
    print(fake.url, flush=True)
    try:
        fake._server.serve_forever(0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
