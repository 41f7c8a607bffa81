"""`skene-cdc deliveries retry`: re-queue failed emails once their cause is fixed."""

from __future__ import annotations

import sys

import click

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.db import connect, require_schema
from skene_cdc.handlers.email.retry import retry as retry_deliveries


@click.group()
def deliveries() -> None:
    """The email outbox: re-queue deliveries that failed."""


@deliveries.command("retry")
@click.option("--loop", help="Only this loop's deliveries.")
@click.option("--template", help="Only deliveries of this template.")
@click.option("--user", "user_id", help="Only this user's deliveries.")
@click.option("--id", "ids", type=int, multiple=True, help="This delivery (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Every dead or failing delivery.")
@pass_ctx
def retry(ctx: Ctx, loop: str | None, template: str | None, user_id: str | None,
          ids: tuple[int, ...], all_: bool) -> None:
    """Re-queue dead deliveries (and failing ones waiting on a retry), re-rendered from the
    current skene.yaml: a delivery that never reached the provider gets today's
    personalization and is rendered now; one that still fails is left dead, with why. One the
    provider refused is sent again exactly as first rendered, with its idempotency key."""
    if not (loop or template or user_id or ids or all_):
        raise click.UsageError("say which deliveries: --loop, --template, --user or --id "
                               "(or --all for every dead or failing one)")
    config = ctx.config
    with connect(ctx.url) as conn:
        require_schema(conn)
        conn.commit()
        done = retry_deliveries(conn, config, loop=loop, template=template, user_id=user_id,
                                ids=ids)
    for row, why in done.still_failing:
        click.echo(f"still fails, not re-queued: delivery #{row['id']} ({row['loop']}, user "
                   f"{row['user_id']}, template {row['template']}): {why}")
    n = len(done.requeued)
    if n or not done.still_failing:
        click.echo(f"re-queued {n} deliver{'y' if n == 1 else 'ies'} ({done.rerendered} "
                   f"re-rendered from the current {config.source}, {n - done.rerendered} to be "
                   "sent again as first rendered); `skene-cdc listen` sends them"
                   if n else "no dead or failing deliveries match")
    if done.still_failing:
        sys.exit(1)
