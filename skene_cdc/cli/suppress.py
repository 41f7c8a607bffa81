"""`skene-cdc suppress add|remove|list`: keep addresses (or users) out of growth email by hand:
bounces an SMTP server reported, complaints that reached a person, an opt-out by reply."""

from __future__ import annotations

import json
import re

import click

from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.db import connect, require_schema
from skene_cdc.errors import SkeneError
from skene_cdc.handlers.email import suppression

# Not an address validator (the sender validates recipients): a guard against a swapped
# argument or a list pasted as one.
_ADDRESS = re.compile(r"^[^\s@,;<>]+@[^\s@,;<>]+$")


@click.group()
def suppress() -> None:
    """Suppress addresses or users from growth email, lift it, or list who is suppressed."""


def _subjects(ctx: Ctx, addresses: tuple[str, ...], users: tuple[str, ...],
              loop: str | None) -> tuple[list[str], list[str], str | None]:
    if not addresses and not users:
        raise SkeneError("name at least one address (ADDRESS ...) or user (--user ID)",
                         hint="e.g. `skene-cdc suppress add bounced@example.com`")
    bad = [a for a in addresses if len(a) > 320 or not _ADDRESS.match(a.strip())]
    if bad:
        raise SkeneError(f"not an email address: {bad[0]!r}",
                         hint="Give one address per argument, e.g. ann@example.com")
    if loop is not None:
        names = [lp.name for lp in ctx.config.loops]
        if loop not in names:
            raise SkeneError(f"--loop {loop!r} is not a loop in {ctx.config.source}",
                             hint=f"Loops: {', '.join(names) or 'none defined'}")
    return ([a.strip().lower() for a in addresses], [u.strip() for u in users if u.strip()],
            f"loop:{loop}" if loop else None)


@suppress.command("add")
@click.argument("addresses", nargs=-1)
@click.option("--user", "users", multiple=True, help="A user id (repeatable): every address "
                                                      "the user has, now and later.")
@click.option("--loop", default=None, help="Only this loop's email (default: all growth email).")
@click.option("--reason", type=click.Choice(["manual", "bounce", "complaint", "unsubscribe"]),
              default="manual", help="Why, as recorded and shown in deliveries' errors.")
@click.option("--note", default=None, help="Free text kept with the suppression.")
@pass_ctx
def add(ctx: Ctx, addresses: tuple[str, ...], users: tuple[str, ...], loop: str | None,
        reason: str, note: str | None) -> None:
    """Suppress ADDRESS... (and/or --user ID) from growth email."""
    addrs, ids, scope = _subjects(ctx, addresses, users, loop)
    with connect(ctx.url) as conn:
        require_schema(conn)
        new = [a for a in addrs if suppression.add(conn, reason=reason, source="cli", address=a,
                                                   scope=scope or "all", detail=note)]
        new += [f"user {u}" for u in ids if suppression.add(
            conn, reason=reason, source="cli", user_id=u, scope=scope or "all", detail=note)]
    total = len(addrs) + len(ids)
    click.echo(f"suppressed {len(new)} of {total} ({scope or 'all growth email'})"
               + (f"; {total - len(new)} already were" if len(new) < total else ""))


@suppress.command("remove")
@click.argument("addresses", nargs=-1)
@click.option("--user", "users", multiple=True, help="A user id (repeatable).")
@click.option("--loop", default=None, help="Only the suppression for this loop (default: every "
                                           "scope).")
@pass_ctx
def remove(ctx: Ctx, addresses: tuple[str, ...], users: tuple[str, ...],
           loop: str | None) -> None:
    """Lift the suppression of ADDRESS... (and/or --user ID); the record stays."""
    addrs, ids, scope = _subjects(ctx, addresses, users, loop)
    lifted = 0
    with connect(ctx.url) as conn:
        require_schema(conn)
        for a in addrs:
            lifted += len(suppression.remove(conn, by="cli", address=a, scope=scope))
        for u in ids:
            lifted += len(suppression.remove(conn, by="cli", user_id=u, scope=scope))
    click.echo(f"lifted {lifted} suppression(s)")


@suppress.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Lifted suppressions too.")
@click.option("--limit", default=100, type=click.IntRange(1, 1_000_000), help="How many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def list_(ctx: Ctx, include_removed: bool, limit: int, as_json: bool) -> None:
    """Who may not get growth email, newest first."""
    with connect(ctx.url, autocommit=True) as conn:
        require_schema(conn)
        rows = suppression.listing(conn, limit=limit, include_removed=include_removed)
    for r in rows:
        if as_json:
            click.echo(json.dumps(r, default=str))
            continue
        lifted = f"  lifted {r['removed_at']:%Y-%m-%d}" if r["removed_at"] else ""
        click.echo(f"{r['created_at']:%Y-%m-%d %H:%M}  {r['subject']:<32} {r['reason']:<11} "
                   f"{r['scope']:<16} {r['source']}{lifted}"
                   + (f"  {r['detail']}" if r["detail"] else ""))
    if not rows and not as_json:
        click.echo("nobody is suppressed")
