"""`skene-cdc serve`: skene's HTTP endpoints (Stripe webhook, one-click unsubscribe, Resend's
webhook), whichever skene.yaml configures."""

from __future__ import annotations

import errno
import socket

import click

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.errors import SkeneError


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before uvicorn starts: a busy port or an unknown host is a
    one-paragraph error naming the flag, not uvicorn's log line and exit status 3."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SkeneError(f"--host {host!r} is not an address this machine can listen on "
                         f"({exc.strerror})",
                         hint="Pass --host (env SKENE_SERVE_HOST), e.g. 127.0.0.1 or 0.0.0.0") \
            from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SkeneError(f"port {port} on {host} is already in use (--port)",
                             hint="Stop whatever listens there, or pass another --port (env "
                                  "SKENE_SERVE_PORT)") from None
        raise SkeneError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="Pass another --host / --port (env SKENE_SERVE_HOST / "
                              "SKENE_SERVE_PORT); ports below 1024 need root") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@click.command()
@click.option("--host", default="127.0.0.1", show_envvar=True, help="Interface to listen on.")
@click.option("--port", default=8000, type=click.IntRange(0, 65535), show_envvar=True,
              help="Port to listen on.")
@pass_ctx
def serve(ctx: Ctx, host: str, port: int) -> None:
    """Serve the endpoints skene.yaml configures: POST /stripe/webhook (stripe:), GET and POST
    /unsubscribe (email.unsubscribe), POST /resend/webhook (email.resend)."""
    import uvicorn

    from skene_cdc.web.app import skene_app

    app = skene_app(ctx.config, ctx.url)
    sock = bind(host, port)
    for path in app.paths:
        if path != "/webhook":
            click.echo(f"skene-cdc: serving http://{host}:{sock.getsockname()[1]}{path}",
                       err=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])
