"""`skene-cdc listen`: the long-running process."""

from __future__ import annotations

import click

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.cli.main import cli
from skene_cdc.db import connect, require_schema
from skene_cdc.listener import runner


@cli.command()
@click.option("--once", is_flag=True, help="Process everything pending and due, then exit.")
@pass_ctx
def listen(ctx: Ctx, once: bool) -> None:
    """Capture changes, evaluate loops, run schedules and send email until SIGTERM/SIGINT."""
    config = ctx.config
    with connect(ctx.url) as conn:
        require_schema(conn)
    services = runner.build_services(ctx.url, config)
    if once:
        done = runner.drain_once(services)
        click.echo(", ".join(f"{name}: {n}" for name, n in done.items()))
        return
    if not runner.run_forever(services):
        raise SystemExit(1)
