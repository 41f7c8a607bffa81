"""`skene-cdc migrate` and `skene-cdc uninstall`."""

from __future__ import annotations

import click

from skene_cdc import backfill
from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.errors import ConfigError
from skene_cdc.freemium.cleanup import remove_redis_keys
from skene_cdc.migrations import runner
from skene_cdc.progress import StepProgress


@click.command()
@click.option("--sql", "sql_only", is_flag=True, help="Print the SQL instead of running it.")
@click.option("--backfill", "with_backfill", is_flag=True,
              help="Then import the activity tables' existing rows (see `skene-cdc backfill`).")
@click.option("--batch-size", default=backfill.DEFAULT_BATCH, type=click.IntRange(1),
              help="Rows per backfill transaction.")
@pass_ctx
def migrate(ctx: Ctx, sql_only: bool, with_backfill: bool, batch_size: int) -> None:
    """Install or upgrade schema `skene` and capture for every table skene.yaml names."""
    if sql_only:
        click.echo(runner.migrate_sql(ctx.url, ctx.config))
        return
    with StepProgress("migrate: capture") as on_step:
        result = runner.migrate(ctx.url, ctx.config, on_step)
    if result.schema_before != result.schema_after:
        click.echo(f"schema skene: {result.schema_before or 'not installed'} -> "
                   f"{result.schema_after}")
    else:
        click.echo(f"schema skene: at {result.schema_after}, nothing to upgrade")
    for step in result.capture_steps:
        click.echo(f"  {step}")
    if not result.capture_steps:
        click.echo("capture: in step with skene.yaml, nothing changed")
    if with_backfill:
        for line in backfill.backfill(ctx.url, batch_size=batch_size):
            click.echo(f"backfill {line}")


@click.command()
@click.option("--yes", is_flag=True, help="Confirm: remove every object skene installed.")
@click.option("--keep-redis", is_flag=True,
              help="Leave skene's Redis keys (plan cache, usage counters, usage stream).")
@pass_ctx
def uninstall(ctx: Ctx, yes: bool, keep_redis: bool) -> None:
    """Remove triggers, functions, publication, replication slot and schema skene, and skene's
    Redis keys (unless --keep-redis). A running listener is asked to stop first.

    App tables and rows are not touched."""
    if not yes:
        raise click.UsageError("uninstall removes schema skene and all captured history; "
                               "pass --yes to confirm")
    done = runner.uninstall(ctx.url)
    for line in done or ["skene is not installed in this database; nothing to do there"]:
        click.echo(line)
    try:
        config = ctx.config
    except ConfigError as exc:
        click.echo(f"skene's Redis keys, if any, were left: {ctx.config_path} cannot be read "
                   f"({exc.message})")
        return
    if keep_redis:
        click.echo("kept skene's Redis keys (--keep-redis)")
        return
    removed = remove_redis_keys(config)
    if removed:
        click.echo(removed)
