"""`skene-cdc quarantine`: the changes the consumer set aside because each failed on its own
(kept whole with the error in skene.quarantine), and putting them back once the cause is fixed."""

from __future__ import annotations

import click
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.db import connect, require_schema


@click.group()
def quarantine() -> None:
    """Changes set aside because processing them failed (the rest went on)."""


@quarantine.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also those already replayed.")
@pass_ctx
def list_(ctx: Ctx, show_all: bool) -> None:
    """What is in quarantine, with the error each one failed with."""
    with connect(ctx.url, autocommit=True) as conn:
        require_schema(conn)
        rows = conn.execute(sql.load("quarantine/list"), {"all": show_all}).fetchall()
    if not rows:
        click.echo("nothing in quarantine")
    for r in rows:
        state = f"replayed {r['replayed_at']:%Y-%m-%d %H:%M}" if r["replayed_at"] else "held"
        click.echo(f"#{r['id']}  {r['quarantined_at']:%Y-%m-%d %H:%M:%S}  {r['source'] or '-'} "
                   f"{r['op']}  ({state})\n    error: {r['error']}\n    data:  {r['data']}")


def _ids(ids: tuple[int, ...], everything: bool) -> dict[str, object]:
    if not ids and not everything:
        raise click.UsageError("name the quarantine ids (see `skene-cdc quarantine list`) or "
                               "pass --all")
    return {"ids": list(ids), "all": everything}


@quarantine.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Every change still held.")
@pass_ctx
def replay(ctx: Ctx, ids: tuple[int, ...], everything: bool) -> None:
    """Put changes back into the capture queue; the listener processes them again."""
    params = _ids(ids, everything)
    with connect(ctx.url) as conn:
        require_schema(conn)
        with conn.transaction():
            conn.execute(sql.load("queue/pin_settings"))
            table = conn.execute(sql.load("queue/current")).fetchone() or {}
            row = conn.execute(pgsql.SQL(sql.load("quarantine/replay")).format(
                queue=pgsql.Identifier(table["table"])), params).fetchone() or {}
    click.echo(f"{row.get('replayed', 0)} change(s) back in the queue; the listener picks them up")


@quarantine.command("drop")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Every change in quarantine.")
@pass_ctx
def drop_(ctx: Ctx, ids: tuple[int, ...], everything: bool) -> None:
    """Forget quarantined changes for good."""
    params = _ids(ids, everything)
    with connect(ctx.url) as conn:
        require_schema(conn)
        n = conn.execute(sql.load("quarantine/drop"), params).rowcount
        conn.commit()
    click.echo(f"{n} change(s) dropped from quarantine")
