"""`skene-cdc loops run NAME [--dry-run]` and `skene-cdc loops list`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import psycopg
from rich.console import Console
from rich.table import Table

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.cli.render import render
from skene_cdc.config import Config
from skene_cdc.db import Row, connect, require_schema
from skene_cdc.errors import SkeneError
from skene_cdc.handlers.decision import NO_ADDRESS
from skene_cdc.handlers.email import templates as tpl
from skene_cdc.handlers.email.compose import render_delivery
from skene_cdc.handlers.loops.engine import Decision, StepResult, run_step
from skene_cdc.handlers.loops.handler import register_loops
from skene_cdc.handlers.loops.plan import StepPlan, require_plans
from skene_cdc.handlers.loops.report import funnel_rows
from skene_cdc.handlers.loops.schedule import LoopScheduler
from skene_cdc.runtime import services as runtime


@click.group()
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
        consumer = runtime.build_consumer(ctx.url, config)
        scheduler = LoopScheduler(ctx.url, config, plans, listener_id="cli:loops-run")
        # Conditions read the rollups: first process what was captured (backfilled history
        # too), as the listener would, so the run decides on today's data whether or not a
        # listener is running. A real run commits each batch; a dry run does it all inside one
        # outer transaction and rolls everything back, so it records nothing.
        pending = 0 if dry_run else runtime.process_pending(conn, consumer)
        with conn.transaction() as outer:
            if dry_run:
                pending = runtime.process_pending(conn, consumer)
            register_loops(conn, config)
            for plan in mine:
                results.append(_run_one(conn, config, scheduler, plan))
            if dry_run:
                raise psycopg.Rollback(outer)
    if pending:
        click.echo(f"{pending} captured event(s) processed first, as the listener would"
                   f"{' (rolled back with the rest of the dry run)' if dry_run else ''}",
                   err=True)
    _print(config, results, dry_run)
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


def _email_outcome(config: Config, templates: tpl.Templates, d: Decision, dry_run: bool) -> str:
    """What will happen to this decision's email, in the sender's words: rendered here exactly as
    the sender will render it, so a personalization that is empty for this user shows now
    rather than as a dead delivery later."""
    if not d.to_address:
        return f"not sent: {NO_ADDRESS}"
    if d.delivery_id is None and not dry_run:
        return "not sent: this episode already has an email"
    try:
        render_delivery(config, templates, {
            "context": d.context, "template": d.template, "loop": d.context["loop"]["name"],
            "user_id": d.user_id, "to_address": d.to_address}, None)
    except SkeneError as exc:
        return f"will fail: {exc.message}"
    return "would be queued" if dry_run else "queued"


def _print(config: Config, results: list[StepResult], dry_run: bool) -> None:
    console = Console(soft_wrap=True)
    templates = tpl.Templates(config.templates_dir())
    failing = 0
    for r in results:
        table = Table(title=f"{r.plan.label} ({r.plan.mode}): {len(r.decisions)} user(s) "
                            f"{'would be' if dry_run else 'were'} acted on",
                      title_justify="left", title_style="bold")
        for col in ("user_id", "address", "template", "variant", "episode", "email"):
            table.add_column(col, overflow="fold")
        for d in r.decisions:
            outcome = _email_outcome(config, templates, d, dry_run)
            failing += outcome.startswith("will fail")
            table.add_row(d.user_id, d.to_address or "-", d.template, d.variant or "-",
                          d.episode, outcome)
        console.print(table)
        for uid, err in sorted(r.user_errors.items()):
            console.print(f"  user {uid}: evaluation failed: {err}")
    if dry_run:
        total = sum(1 for r in results for d in r.decisions if d.to_address)
        summary = f"dry run: {total} email(s) would get these users; nothing was recorded"
    else:
        total = sum(r.enqueued for r in results)
        summary = (f"{total} email(s) enqueued for the outbox; the listener's sender sends "
                   "them (`skene-cdc status` shows how they went)")
    if failing:
        summary += (f"; {failing} of them will fail to render: fix skene.yaml or the template, "
                    "then `skene-cdc deliveries retry`" if not dry_run else
                    f"; {failing} of them will fail to render: fix skene.yaml or the template "
                    "first")
    click.echo(summary)


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
