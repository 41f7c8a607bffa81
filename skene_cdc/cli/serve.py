"""`skene-cdc serve`: the Stripe webhook endpoint (POST /stripe/webhook) over HTTP."""

from __future__ import annotations

import click

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.cli.main import cli


@cli.command()
@click.option("--host", default="127.0.0.1", show_envvar=True, help="Interface to listen on.")
@click.option("--port", default=8000, type=int, show_envvar=True, help="Port to listen on.")
@pass_ctx
def serve(ctx: Ctx, host: str, port: int) -> None:
    """Serve the Stripe webhook: point Stripe at http://HOST:PORT/stripe/webhook."""
    import uvicorn

    from skene_cdc.billing.webhook import stripe_webhook_app

    app = stripe_webhook_app(ctx.config, ctx.url)
    click.echo(f"skene-cdc: Stripe webhook on http://{host}:{port}/stripe/webhook", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")
