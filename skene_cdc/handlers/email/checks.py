"""Email checks: every template a loop can send compiles and renders for a sample user, and the
providers in use have their credentials. `preflight` (compile + credentials) runs when the sender
starts, so `listen` refuses bad templates before anything is sent; `check_email` is registered
with `skene-cdc check` and also renders each template against a sample skene.users row."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from skene_cdc import sql
from skene_cdc.checks import CheckContext, Problem
from skene_cdc.config import Config
from skene_cdc.errors import SkeneError
from skene_cdc.handlers.email import templates as tpl
from skene_cdc.handlers.email.actions import email_uses, providers_used
from skene_cdc.handlers.email.providers import credential_problem

# skene.users columns every install has (the generated view adds the app's other columns).
BASE_USER_COLUMNS = {
    "user_id": "text", "email": "text", "name": "text", "created_at": "timestamp with time zone",
    "first_seen_at": "timestamp with time zone", "last_activity_at": "timestamp with time zone",
    "last_event": "text", "last_event_data": "jsonb", "activity_this_week": "bigint",
    "activity_last_week": "bigint", "plan": "text",
}


class _Anything(dict[str, Any]):
    """A sample event's `data`: any key exists, so `{{ event.data.project }}` checks clean."""

    def __missing__(self, key: str) -> _Anything:
        return _Anything()

    def __str__(self) -> str:
        return "sample"


def sample_user(columns: Mapping[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    user: dict[str, Any] = {}
    for name, data_type in columns.items():
        if "timestamp" in data_type or data_type == "date":
            user[name] = now - timedelta(days=8)
        elif data_type in {"integer", "bigint", "smallint", "numeric", "double precision",
                           "real"}:
            user[name] = 3
        elif data_type == "boolean":
            user[name] = True
        elif data_type in {"json", "jsonb"}:
            user[name] = _Anything()
        elif name == "email":
            user[name] = "sample@example.test"
        else:
            user[name] = f"sample {name}"
    return user


def sample_event() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"id": 1, "txid": 1, "occurred_at": now, "captured_at": now, "source": "trigger",
            "table_name": "public.sample", "op": "insert", "user_id": "1", "event": "sample",
            "activity": True, "data": _Anything()}


def _sample_event_for(trigger: str) -> dict[str, Any] | None:
    if trigger == "schedule":
        return None
    if trigger == "api":
        # The freemium gate's event carries its own keys (used, limit, upgrade_url, ...).
        return _Anything(sample_event())
    return sample_event()


def template_problems(config: Config, templates: tpl.Templates,
                      user: Mapping[str, Any] | None) -> Iterator[Problem]:
    """Missing and broken templates; with `user`, also render each use against it."""
    seen: set[str] = set()
    for use in email_uses(config):
        where = config.where(*use.path)
        try:
            if use.template not in seen:
                seen.add(use.template)
                templates.get(use.template)
            if user is not None:
                event = _sample_event_for(use.step.trigger.type)
                templates.render(use.template, tpl.variables(
                    use.action.personalization, user, event,
                    f"{where} loop {use.loop.name}"))
        except tpl.TemplateProblem as exc:
            yield Problem(exc.where or where, f"loop {use.loop.name!r}, template "
                          f"{use.template!r}: {exc.message}", exc.hint or "fix the template")
        except SkeneError as exc:
            yield Problem(where, exc.message, exc.hint or "fix the template name")


def credential_problems(config: Config, env: Mapping[str, str]) -> Iterator[Problem]:
    for name, where in providers_used(config).items():
        problem = credential_problem(name, env)
        if problem:
            yield Problem(f"environment ({where})", problem,
                          "export it where `skene-cdc listen` runs; its value is never printed")


def preflight(config: Config, templates: tpl.Templates, env: Mapping[str, str]) -> None:
    """Refuse to start sending when a template does not compile or credentials are missing."""
    problems = [*template_problems(config, templates, None), *credential_problems(config, env)]
    if problems:
        raise SkeneError("the email sender cannot start:\n  " +
                         "\n  ".join(str(p) for p in problems),
                         hint="Run `skene-cdc check` for every problem at once")


def check_email(ctx: CheckContext) -> Iterable[Problem]:
    columns = dict(BASE_USER_COLUMNS)
    if ctx.conn is not None:
        rows = ctx.conn.execute(sql.load("email/users_columns")).fetchall()
        columns.update({r["column_name"]: r["data_type"] for r in rows})
    templates = tpl.Templates(ctx.config.templates_dir())
    yield from template_problems(ctx.config, templates, sample_user(columns))
    yield from credential_problems(ctx.config, os.environ)


def check_personalization(ctx: CheckContext) -> Iterable[Problem]:
    """A personalization that reads a column some users have NULL or empty, with no fallback:
    an error when such users exist now, a warning when the column merely allows it."""
    from skene_cdc.handlers.email.personalization import risks

    for risk in risks(ctx.config, ctx.conn):
        yield Problem(ctx.config.where(*risk.use.path[:-1], "personalization", risk.key),
                      risk.message, risk.fix,
                      "error" if risk.current_user else "warning")
