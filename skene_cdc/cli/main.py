"""Entry point: global options, logging, and turning errors into one readable paragraph."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from skene_cdc import __version__
from skene_cdc.cli.context import Ctx
from skene_cdc.errors import SkeneError


class SkeneGroup(click.Group):
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


def _register() -> None:
    # Each command lives in its own module; importing registers it on `cli`.
    from skene_cdc.cli import (  # noqa: F401
        backfill,
        check,
        deliveries,
        demo,
        events,
        init,
        listen,
        loops,
        migrate,
        preview,
        quarantine,
        report,
        serve,
        status,
        suppress,
    )


_register()


def _show_envvars(group: click.Group) -> None:
    """Every flag reads SKENE_<COMMAND>_<FLAG>; say so in --help."""
    for command in group.commands.values():
        for param in command.params:
            if isinstance(param, click.Option):
                param.show_envvar = True
        if isinstance(command, click.Group):
            _show_envvars(command)


_show_envvars(cli)


def main() -> None:
    cli(prog_name="skene-cdc")
