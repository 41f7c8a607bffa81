"""`skene-cdc report`: a self-contained HTML page of the loops' funnels and capture."""

from __future__ import annotations

from pathlib import Path

import click

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.db import connect, require_schema
from skene_cdc.report import data, render


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("skene-report.html"), help="Where to write the HTML file.")
@click.option("--days", type=click.IntRange(1, 366), default=30,
              help="How many days of loop funnels to chart.")
@click.option("--hours", type=click.IntRange(1, 24 * 31), default=48,
              help="How many hours of capture (events, lag) to chart.")
@pass_ctx
def report(ctx: Ctx, output: Path, days: int, hours: int) -> None:
    """Write an HTML report: per-loop funnels per day, conversion per template variant, events
    and capture lag per hour. One file, no scripts, nothing loaded from the network."""
    with connect(ctx.url, autocommit=True) as conn:
        require_schema(conn)
        collected = data.collect(conn, days=days, hours=hours)
    path = render.write(collected, output)
    click.echo(f"wrote {path} ({len(collected.loops)} loops, "
               f"{collected.totals.get('events', 0):,} events); open it in a browser")
