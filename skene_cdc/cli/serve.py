"""`skene-cdc serve`: skene's HTTP endpoints (Stripe webhook, one-click unsubscribe, Resend's
webhook), whichever skene.yaml configures."""

from __future__ import annotations

import click

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.cli.main import cli


@cli.command()
@click.option("--host", default="127.0.0.1", show_envvar=True, help="Interface to listen on.")
@click.option("--port", default=8000, type=int, show_envvar=True, help="Port to listen on.")
@pass_ctx
def serve(ctx: Ctx, host: str, port: int) -> None:
    """Serve the endpoints skene.yaml configures: POST /stripe/webhook (stripe:), GET and POST
    /unsubscribe (email.unsubscribe), POST /resend/webhook (email.resend)."""
    import uvicorn

    from skene_cdc.web.app import skene_app

    app = skene_app(ctx.config, ctx.url)
    for path in app.paths:
        if path != "/webhook":
            click.echo(f"skene-cdc: serving http://{host}:{port}{path}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")
