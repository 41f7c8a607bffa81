"""`skene-cdc status`: one screen on capture, loops, deliveries and errors.

The human view (skene_cdc/cli/render.py) fits an 80-column terminal; `--json` prints
`status.collect()` as is: the stable, documented shape for scripts (docs/status.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.markup import escape

# Before the CLI import: command modules that `cli.main` imports may import `render` from here
# while this module is still half-initialised (an import cycle through cli.main).
from skene_cdc.cli.render import render as render  # noqa: F401  (re-exported)
from skene_cdc.cli.render import render_report

# isort: split
from skene_cdc import status as status_mod
from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.db import connect, jsonable, redact, require_schema


@click.command()
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: one object, a key per section (docs/status.md).")
@pass_ctx
def status(ctx: Ctx, as_json: bool) -> None:
    """Capture lag and backlog, replication slot lag, loop funnels, deliveries by state, last
    errors, listeners and captured tables."""
    with connect(ctx.url, autocommit=True) as conn:
        require_schema(conn)
        report = status_mod.collect(conn)
    if as_json:
        click.echo(json.dumps(report, default=jsonable, indent=2))
        return
    console = Console(soft_wrap=False, highlight=False)
    now = datetime.now(UTC)
    console.print(f"[bold]skene status[/] at {now:%Y-%m-%d %H:%M:%S} UTC")
    console.print(f"[dim]{escape(redact(ctx.url))}[/]")
    render_report(console, report, now)

