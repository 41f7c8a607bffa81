"""`skene-cdc init`: inspect the app database (read-only) and write skene.yaml + templates."""

from __future__ import annotations

import os
from pathlib import Path

import click

from skene_cdc.cli.context import Ctx, pass_ctx


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the config [default: --config, i.e. ./skene.yaml].")
@click.option("--templates", default="templates", metavar="DIR",
              help="Folder for the starter email templates, relative to the config file.")
@click.option("--users-table", metavar="SCHEMA.TABLE",
              help="The users table, when the guess is wrong.")
@click.option("--schema", "schemas", multiple=True, metavar="NAME",
              help="Only look at this schema (repeatable). Default: every schema you can read.")
@click.option("--stripe/--no-stripe", default=None,
              help="Write the stripe section and the freemium loop  [default: when "
                   "STRIPE_WEBHOOK_SECRET is set].")
@click.option("--redis/--no-redis", default=None,
              help="Write the redis section and the freemium loop  [default: when REDIS_URL is "
                   "set].")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option("--stdout", is_flag=True, help="Print the config; write nothing.")
@pass_ctx
def init(ctx: Ctx, output: Path | None, templates: str, users_table: str | None,
         schemas: tuple[str, ...], stripe: bool | None, redis: bool | None, force: bool,
         stdout: bool) -> None:
    """Inspect the app database (read-only) and write a commented skene.yaml and templates.

    Finds the users table (email, name, signup time), the activity tables (a foreign key or a
    user_id column to users, and a timestamp), a Stripe customer id column, and writes the
    activation and retention loops (and freemium, when Stripe or Redis is configured)."""
    from skene_cdc.inspect import generate  # jinja2 and pglast: only when init runs

    inspection = generate.inspect_database(ctx.url, schemas=list(schemas),
                                           users_table=users_table)
    if stripe is None:
        stripe = bool(os.environ.get("STRIPE_WEBHOOK_SECRET"))
    if redis is None:
        redis = bool(os.environ.get("REDIS_URL"))
    text = generate.render_config(inspection, templates=templates, stripe=stripe, redis=redis)
    if stdout:
        click.echo(text, nl=False)
        return
    path = output or Path(ctx.config_path)
    written = generate.write_files(generate.plan_files(path, text, templates), force=force)
    det = inspection.detection
    u = det.users
    cols = ", ".join(f"{k} {v}" for k, v in (("email", u.email), ("name", u.name),
                                              ("signup", u.created_at)) if v)
    click.echo(f"users:    {u.table.qualified} ({cols})")
    for a in det.activity:
        event = f", event {a.event}" if a.event else ""
        click.echo(f"activity: {a.table.qualified} (user {a.user_id}, time {a.timestamp}{event})")
    for table, left_out in [(u.table, u.exclude), *((a.table, a.exclude) for a in det.activity)]:
        for column, why in left_out:
            click.echo(f"excluded: {table.qualified}.{column}: its name looks secret ({why}); "
                       "never copied into skene (`exclude:` in the config)")
    for s in det.skipped:
        click.echo(f"skipped:  {s.table}: {s.reason}")
    click.echo("wrote:    " + ", ".join(str(p) for p in written))
    click.echo("next:     review the file, then `skene-cdc check` and "
               "`skene-cdc migrate --backfill`")
