"""`skene-cdc demo`: the README's first command. No arguments, no services needed."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from skene_cdc.demo.output import Output
from skene_cdc.demo.run import Demo


@click.command()
@click.option("--keep", is_flag=True,
              help="Leave the demo database running (psql into it) until Ctrl-C.")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the HTML report of the demo's loops to this file.")
@click.pass_context
def demo(ctx: click.Context, keep: bool, report: Path | None) -> None:
    """Run the whole pipeline on a throwaway PostgreSQL: a sample app, simulated users, the
    loops' emails (console provider) and their funnels. Cleans up after itself."""
    verbose = ctx.find_root().params.get("verbose", 0)
    if not verbose:
        # The listener and Alembic log at INFO; the demo narrates those steps itself.
        logging.getLogger().setLevel(logging.WARNING)
    Demo(Output(), keep=keep, report=report).run()
