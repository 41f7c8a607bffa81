"""A minimal SMTP server (RFC 5321 subset: EHLO/HELO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET,
NOOP, QUIT) that keeps every message it receives, parsed. Enough for smtplib; no TLS."""

from __future__ import annotations

import base64
import socketserver
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage


class SmtpSink:
    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.fail_next: list[str] = []  # replies to give instead of "250" after DATA
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, userinfo: str = "") -> str:
        return f"smtp://{userinfo}127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[socketserver.StreamRequestHandler]:
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def readline(self) -> str:
                return self.rfile.readline().decode("utf-8", "replace").rstrip("\r\n")

            def handle(self) -> None:
                self.reply("220 sink ESMTP")
                sender, authed = "", sink.username is None
                rcpts: list[str] = []
                while True:
                    line = self.readline()
                    if not line and self.rfile.closed:
                        return
                    verb, _, arg = line.partition(" ")
                    verb = verb.upper()
                    if verb == "EHLO":
                        self.reply("250-sink")
                        if sink.username is not None:
                            self.reply("250-AUTH PLAIN LOGIN")
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 sink")
                    elif verb == "AUTH":
                        authed = self.auth(arg)
                        self.reply("235 ok" if authed else "535 authentication failed")
                    elif verb == "MAIL":
                        if not authed:
                            self.reply("530 authentication required")
                            continue
                        sender, rcpts = arg.split(":", 1)[1].strip().strip("<>"), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = self.read_data()
                        if sink.fail_next:
                            self.reply(sink.fail_next.pop(0))
                            continue
                        msg = message_from_bytes(data.replace(b"\r\n", b"\n"),
                                                 policy=policy.default)
                        sink.messages.append(msg)
                        sink.envelopes.append((sender, rcpts))
                        self.reply("250 queued")
                    elif verb in {"RSET", "NOOP"}:
                        self.reply("250 ok")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    elif not line:
                        return
                    else:
                        self.reply("502 not implemented")

            def read_data(self) -> bytes:
                lines = []
                while True:
                    raw = self.rfile.readline()
                    if raw in (b".\r\n", b".\n", b""):
                        break
                    lines.append(raw[1:] if raw.startswith(b"..") else raw)
                return b"".join(lines)

            def auth(self, arg: str) -> bool:
                mech, _, initial = arg.partition(" ")
                if mech.upper() == "PLAIN":
                    if not initial:
                        self.reply("334 ")
                        initial = self.readline()
                    parts = base64.b64decode(initial).split(b"\0")
                    user, pw = parts[-2].decode(), parts[-1].decode()
                elif mech.upper() == "LOGIN":
                    self.reply("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.readline()).decode()
                    self.reply("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(self.readline()).decode()
                else:
                    return False
                return (user, pw) == (sink.username, sink.password)

        return Handler
