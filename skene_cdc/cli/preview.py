"""`skene-cdc preview TEMPLATE --user ID`: the email exactly as that user would get it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from skene_cdc import sql
from skene_cdc.cli.context import Ctx, pass_ctx
from skene_cdc.db import connect, require_schema
from skene_cdc.errors import SkeneError
from skene_cdc.handlers.email import templates as tpl
from skene_cdc.handlers.email.actions import find_use
from skene_cdc.handlers.email.personalization import risks


@click.command()
@click.argument("template")
@click.option("--user", "user_id", required=True, help="The user's id (skene.users.user_id).")
@click.option("--loop", help="Use this loop's personalization (default: the first loop that "
                             "sends TEMPLATE).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the HTML part to this file.")
@click.option("--open", "open_", is_flag=True,
              help="Write the HTML to a file (--html, or a new temporary file) and print only "
                   "its path, for `xdg-open $(skene-cdc preview ... --open)`.")
@pass_ctx
def preview(ctx: Ctx, template: str, user_id: str, loop: str | None, html_path: Path | None,
            open_: bool) -> None:
    """Render TEMPLATE for one user: their skene.users row plus the loop's personalization."""
    config = ctx.config
    use = find_use(config, template, loop)
    if loop and use is None:
        raise SkeneError(f"loop {loop!r} does not send template {template!r}", where=config.source,
                         hint="Check the loop name and its action.template / variants")
    with connect(ctx.url) as conn:
        require_schema(conn)
        user = conn.execute(sql.load("email/users_for"), {"ids": [user_id]}).fetchone()
        # This user may be fine; say which users would not be (check reports the same).
        for risk in risks(config, conn):
            if use is not None and risk.use.loop.name == use.loop.name \
                    and risk.use.template == template:
                click.echo(f"warning: {risk.message}. Fix: {risk.fix}", err=True)
    if user is None:
        raise SkeneError(f"no user with id {user_id!r} in skene.users",
                         hint="Pass an id from your users table (`skene-cdc events --user ID` "
                              "shows a user's activity)")
    personalization = dict(use.action.personalization) if use else {}
    where = config.where(*use.path) if use else config.source
    rendered = tpl.Templates(config.templates_dir()).render(
        template, tpl.variables(personalization, user, None, where))
    if open_ and html_path is None:
        handle, name = tempfile.mkstemp(prefix=f"skene-preview-{template.replace('/', '_')}-",
                                        suffix=".html")
        os.close(handle)
        html_path = Path(name)
    if html_path is not None:
        html_path.write_text(rendered.html, encoding="utf-8")
    if open_:
        click.echo(str(html_path))
        return
    click.echo(f"From: {config.email.from_}\nTo: {user.get('email') or '(no email)'}\n"
               f"Subject: {rendered.subject}\n"
               f"Personalization from: {f'loop {use.loop.name}' if use else '(no loop)'}\n")
    if rendered.text is not None:
        click.echo("--- text ---")
        click.echo(rendered.text.rstrip())
    if html_path is not None:
        click.echo(f"--- html written to {html_path} ---")
    else:
        click.echo("--- html ---")
        click.echo(rendered.html.rstrip())
