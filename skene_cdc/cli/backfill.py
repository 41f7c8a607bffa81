"""`skene-cdc backfill`: import the activity tables' existing rows into skene.events."""

from __future__ import annotations

import click

from skene_cdc import backfill as backfill_
from skene_cdc.cli.context import Ctx, pass_ctx


@click.command()
@click.option("--table", "tables", multiple=True, metavar="SCHEMA.TABLE",
              help="Only this captured activity table (repeatable). Default: all of them.")
@click.option("--batch-size", default=backfill_.DEFAULT_BATCH, type=click.IntRange(1),
              help="Rows per transaction.")
@pass_ctx
def backfill(ctx: Ctx, tables: tuple[str, ...], batch_size: int) -> None:
    """Import rows that existed before capture was installed, so existing users' activity counts.

    Runs after `skene-cdc migrate` (or use `migrate --backfill`): imports exactly the rows
    written before capture began. Resumable and idempotent: each batch commits with its position,
    and a finished table is not imported again."""
    for result in backfill_.backfill(ctx.url, tables=list(tables), batch_size=batch_size):
        click.echo(str(result))
