"""Entry point: global options, logging, and turning errors into one readable paragraph.

Commands are imported when they run, not before: `skene-cdc --version` and `--help` load click
and this module only, and each command pays for what it uses (`listen` psycopg and the loop
engine, `serve` Stripe, `migrate` Alembic and SQLAlchemy). COMMANDS is the one list of them."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from skene_cdc import __version__
from skene_cdc.cli.context import Ctx
from skene_cdc.errors import SkeneError

# name -> (module, attribute, the line `--help` lists it with). The line is the command's own
# short help, kept here so the list costs no import (tests/fast/test_cli_startup.py keeps them
# equal).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "backfill": ("skene_cdc.cli.backfill", "backfill", "Import rows that existed before capture "
                 "was installed, so existing users' activity counts."),
    "check": ("skene_cdc.cli.check", "check", "Validate skene.yaml, SQL conditions, templates and "
              "database prerequisites."),
    "deliveries": ("skene_cdc.cli.deliveries", "deliveries",
                   "The email outbox: re-queue deliveries that failed."),
    "demo": ("skene_cdc.cli.demo", "demo", "Run the whole pipeline on a throwaway PostgreSQL: a "
             "sample app, simulated users, the loops' emails (console provider) and their "
             "funnels."),
    "events": ("skene_cdc.cli.events", "events", "Print recent events, oldest first."),
    "init": ("skene_cdc.cli.init", "init", "Inspect the app database (read-only) and write a "
             "commented skene.yaml and templates."),
    "listen": ("skene_cdc.cli.listen", "listen", "Capture changes, evaluate loops, run schedules "
               "and send email until SIGTERM/SIGINT."),
    "loops": ("skene_cdc.cli.loops", "loops", "Run a loop now, or list loops with their funnel."),
    "migrate": ("skene_cdc.cli.migrate", "migrate", "Install or upgrade schema `skene` and capture "
                "for every table skene.yaml names."),
    "preview": ("skene_cdc.cli.preview", "preview", "Render TEMPLATE for one user: their "
                "skene.users row plus the loop's personalization."),
    "quarantine": ("skene_cdc.cli.quarantine", "quarantine", "Changes set aside because "
                   "processing them failed (the rest went on)."),
    "report": ("skene_cdc.cli.report", "report", "Write an HTML report: per-loop funnels per day, "
               "conversion per template variant, events and capture lag per hour."),
    "serve": ("skene_cdc.cli.serve", "serve", "Serve the endpoints skene.yaml configures: POST "
              "/stripe/webhook (stripe:), GET and POST /unsubscribe (email.unsubscribe), POST "
              "/resend/webhook (email.resend)."),
    "status": ("skene_cdc.cli.status", "status", "Capture lag and backlog, replication slot lag, "
               "loop funnels, deliveries by state, last errors, listeners and captured tables."),
    "suppress": ("skene_cdc.cli.suppress", "suppress", "Suppress addresses or users from growth "
                 "email, lift it, or list who is suppressed."),
    "uninstall": ("skene_cdc.cli.migrate", "uninstall", "Remove triggers, functions, publication, "
                  "replication slot and schema skene, and skene's Redis keys (unless "
                  "--keep-redis)."),
}


class SkeneGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import a command on first use (running it, or its own --help)."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            _show_envvars(command)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands from COMMANDS, as click would print it, without importing any."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        # A stand-in Command shortens the line exactly as the real one would be.
        rows = [(name, (click.Command(name, help=COMMANDS[name][2]) if name in COMMANDS
                        else self.commands[name]).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SkeneError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the contract: never a bare traceback
            if os.environ.get("SKENE_DEBUG"):
                raise
            click.echo(f"error: {type(exc).__name__}: {exc}. This is unexpected; rerun with "
                       "SKENE_DEBUG=1 for the traceback and report it.", err=True)
            sys.exit(1)



@click.group(cls=SkeneGroup, context_settings={"auto_envvar_prefix": "SKENE",
                                              "show_default": True,
                                              "help_option_names": ["-h", "--help"]})
@click.option("--database-url", envvar="DATABASE_URL", show_envvar=True,
              help="PostgreSQL URL of the app database.")
@click.option("--config", "config_path", envvar="SKENE_CONFIG", show_envvar=True,
              default="./skene.yaml", help="Path to skene.yaml.")
@click.option("-v", "--verbose", count=True, envvar="SKENE_VERBOSE", help="More logging.")
@click.version_option(__version__, prog_name="skene-cdc")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, config_path: str, verbose: int) -> None:
    """skene-cdc: growth loops (activation, retention, freemium) from your database's changes."""
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose or _is_listen(ctx)
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = Ctx(database_url=database_url, config_path=config_path)


def _is_listen(ctx: click.Context) -> bool:
    return ctx.invoked_subcommand in {"listen", "serve", "demo"}


def _show_envvars(command: click.Command) -> None:
    """Every flag reads SKENE_<COMMAND>_<FLAG>; say so in --help."""
    for param in command.params:
        if isinstance(param, click.Option):
            param.show_envvar = True
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _show_envvars(sub)


def main() -> None:
    cli(prog_name="skene-cdc")
