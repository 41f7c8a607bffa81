"""`skene-cdc loops run NAME [--dry-run]` and `skene-cdc loops list`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import psycopg
from rich.console import Console
from rich.table import Table

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.cli.main import cli
from skene_cdc.cli.render import render
from skene_cdc.config import Config
from skene_cdc.db import Row, connect, require_schema
from skene_cdc.errors import SkeneError
from skene_cdc.handlers.loops.engine import StepResult, run_step
from skene_cdc.handlers.loops.handler import register_loops
from skene_cdc.handlers.loops.plan import StepPlan, require_plans
from skene_cdc.handlers.loops.report import funnel_rows
from skene_cdc.handlers.loops.schedule import LoopScheduler
from skene_cdc.listener import runner


@cli.group()
def loops() -> None:
    """Run a loop now, or list loops with their funnel."""


@loops.command("run")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Print who would get what; send and record nothing.")
@pass_ctx
def run(ctx: Ctx, name: str, dry_run: bool) -> None:
    """Evaluate loop NAME now, as if its schedule fired, and enqueue its emails.

    Database- and event-triggered steps re-evaluate their open enrolments."""
    config = ctx.config
    plans = require_plans(config)
    mine = _plans_named(config, plans, name)
    results: list[StepResult] = []
    with connect(ctx.url) as conn:
        require_schema(conn)
        conn.commit()
        consumer = runner.build_consumer(ctx.url, config)
        scheduler = LoopScheduler(ctx.url, config, plans, listener_id="cli:loops-run")
        # Conditions read the rollups: first process what was captured (backfilled history
        # too), as the listener would, so the run decides on today's data whether or not a
        # listener is running. A real run commits each batch; a dry run does it all inside one
        # outer transaction and rolls everything back, so it records nothing.
        pending = 0 if dry_run else runner.process_pending(conn, consumer)
        with conn.transaction() as outer:
            if dry_run:
                pending = runner.process_pending(conn, consumer)
            register_loops(conn, config)
            for plan in mine:
                results.append(_run_one(conn, config, scheduler, plan))
            if dry_run:
                raise psycopg.Rollback(outer)
    if pending:
        click.echo(f"{pending} captured event(s) processed first, as the listener would"
                   f"{' (rolled back with the rest of the dry run)' if dry_run else ''}",
                   err=True)
    _print(results, dry_run)
    if any(r.error for r in results):
        raise SkeneError("; ".join(f"{r.plan.label}: {r.error}" for r in results if r.error),
                         hint="Fix the condition and run again; see `skene-cdc check`")


def _plans_named(config: Config, plans: list[StepPlan], name: str) -> list[StepPlan]:
    mine = [p for p in plans if p.loop.name == name]
    if mine:
        return mine
    names = [lp.name for lp in config.loops]
    if name in names:
        raise SkeneError(f"loop {name!r} has no step the loop engine runs (freemium loops, usage "
                         "conditions and api triggers are run by the freemium gate)")
    raise SkeneError(f"there is no loop named {name!r} in {config.source}",
                     hint=f"Loops: {', '.join(names) or 'none defined'}")


def _run_one(conn: psycopg.Connection[Row], config: Config, scheduler: LoopScheduler,
             plan: StepPlan) -> StepResult:
    if plan.mode == "schedule":
        result = scheduler.fire(conn, plan, datetime.now(UTC), manual=True)
        if result is None:  # another `loops run` holds this very instant; vanishingly rare
            raise SkeneError(f"{plan.label} is being run by another process right now")
        return result
    with conn.transaction():
        return run_step(conn, config, plan)


def _print(results: list[StepResult], dry_run: bool) -> None:
    console = Console(soft_wrap=True)
    verb = "would get" if dry_run else "enqueued for"
    for r in results:
        table = Table(title=f"{r.plan.label} ({r.plan.mode}): {len(r.decisions)} user(s) "
                            f"{'would be' if dry_run else 'were'} acted on",
                      title_justify="left", title_style="bold")
        for col in ("user_id", "email", "template", "variant", "episode", "state"):
            table.add_column(col, overflow="fold")
        for d in r.decisions:
            table.add_row(d.user_id, d.to_address or "-", d.template, d.variant or "-",
                          d.episode, d.state)
        console.print(table)
        for uid, err in sorted(r.user_errors.items()):
            console.print(f"  user {uid}: evaluation failed: {err}")
    total = sum(len(r.decisions) for r in results)
    click.echo(f"{'dry run: ' if dry_run else ''}{total} email(s) {verb} "
               f"{'these users' if dry_run else 'the outbox'}"
               f"{'; nothing was recorded' if dry_run else ''}")


@loops.command("list")
@pass_ctx
def list_(ctx: Ctx) -> None:
    """The loops in skene.yaml, their steps, and their funnel so far."""
    config = ctx.config
    console = Console(soft_wrap=True)
    table = Table(title="loops", title_justify="left", title_style="bold")
    for col in ("loop", "type", "step", "trigger", "condition", "email"):
        table.add_column(col, overflow="fold")
    for loop in config.loops:
        for i, step in enumerate(loop.steps, 1):
            trig = step.trigger
            detail = getattr(trig, "cron", None) or getattr(trig, "table", None) or \
                getattr(trig, "event", None) or getattr(trig, "endpoint", "")
            action = step.action
            email = getattr(action, "template", None) or ", ".join(
                v.template for v in getattr(action, "variants", [])) or action.type
            table.add_row(loop.name, loop.type, str(i), f"{trig.type} {detail}",
                          step.condition.type, email)
    console.print(table)
    with connect(ctx.url) as conn:
        require_schema(conn)
        render(console, "funnel", funnel_rows(conn))
