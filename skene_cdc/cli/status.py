"""`skene-cdc status`: one screen on capture, listeners and (as they exist) loops and deliveries."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from skene_cdc import status as status_mod
from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.cli.main import cli
from skene_cdc.db import connect, require_schema


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def status(ctx: Ctx, as_json: bool) -> None:
    """Capture lag, backlog, listeners, deliveries by state, last errors."""
    with connect(ctx.url, autocommit=True) as conn:
        require_schema(conn)
        report = status_mod.collect(conn)
    if as_json:
        click.echo(json.dumps(report, default=_jsonable, indent=2))
        return
    console = Console(soft_wrap=True)
    for section, value in report.items():
        render(console, section, value)


def render(console: Console, title: str, value: Any) -> None:
    rows = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
    if rows is None:
        console.print(f"[bold]{title}[/]: {value}")
        return
    if not rows:
        console.print(f"[bold]{title}[/]: none")
        return
    table = Table(title=title, title_justify="left", title_style="bold")
    for key in rows[0]:
        table.add_column(str(key))
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    return str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)
