"""`skene-cdc events`: recent events, optionally followed."""

from __future__ import annotations

import json
import time

import click

from skene_cdc import sql
from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.db import Row, connect, require_schema


@click.command()
@click.option("--limit", default=20, type=click.IntRange(1, 100_000), help="How many events.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they arrive.")
@click.option("--user", "user_id", default=None, help="Only this user's events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def events(ctx: Ctx, limit: int, follow: bool, user_id: str | None, as_json: bool) -> None:
    """Print recent events, oldest first."""
    with connect(ctx.url, autocommit=True) as conn:
        require_schema(conn)
        params = {"user_id": user_id, "after": 0, "limit": limit}
        rows = conn.execute(sql.load("queries/recent_events"), params).fetchall()
        for row in reversed(rows):
            _print(row, as_json)
        last = rows[0]["id"] if rows else 0
        while follow:
            time.sleep(0.5)
            params.update(after=last, limit=10_000)
            new = conn.execute(sql.load("queries/recent_events"), params).fetchall()
            for row in reversed(new):
                _print(row, as_json)
            last = new[0]["id"] if new else last


def _print(row: Row, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(row, default=str))
        return
    when = row["occurred_at"].isoformat(sep=" ", timespec="seconds")
    table = row["table_name"] or row["source"]
    click.echo(f"{row['id']:>8}  {when}  {row['source']:<8} {table:<28} {row['op']:<8} "
               f"user={row['user_id'] or '-':<10} {row['event'] or ''}")
