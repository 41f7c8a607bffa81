"""A local HTTP server speaking the part of Stripe's API that refetch mode reads:
`GET /v1/subscriptions/<id>` and `GET /v1/customers/<id>`, with Bearer auth, objects as JSON,
and errors as `{"error": {"type", "code", "message"}}` (404 `resource_missing` for an unknown
id). The official SDK talks to it when `stripe.api_base` is its URL.

`objects` holds the current state by id (tests change it between deliveries); `fail(id, status)`
makes reads of that id answer an error; every request is recorded in `requests`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeStripeAPI:
    def __init__(self, api_key: str = "rk_test_refetch") -> None:
        self.api_key = api_key
        self.objects: dict[str, dict[str, Any]] = {}
        self.failing: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []   # (path, authorization header)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeStripeAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, object_id: str, status: int) -> None:
        self.failing[object_id] = status

    def answer(self, path: str, auth: str) -> tuple[int, dict[str, Any]]:
        self.requests.append((path, auth))
        if auth != f"Bearer {self.api_key}":
            return 401, _error("invalid_request_error", None, "Invalid API Key provided")
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "v1" or parts[1] not in ("subscriptions", "customers"):
            return 404, _error("invalid_request_error", None, f"Unrecognized request URL {path}")
        object_id = parts[2]
        if object_id in self.failing:
            status = self.failing[object_id]
            return status, _error("api_error", None, "Something went wrong on Stripe's end")
        obj = self.objects.get(object_id)
        if obj is None:
            return 404, _error("invalid_request_error", "resource_missing",
                               f"No such {parts[1][:-1]}: '{object_id}'")
        return 200, obj

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                status, body = fake.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_fake")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _error(kind: str, code: str | None, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "code": code, "message": message}}
