"""A delivery's email as the sender renders it, from its row in skene.deliveries: the user as
the loop decided on them (completed from skene.users), the personalization stored at enqueue, the
template. One function, used by the sender, by `loops run` (to say which emails will fail to
render) and by `deliveries retry` (to re-queue only what now renders)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skene_cdc.config import Config
from skene_cdc.errors import SkeneError
from skene_cdc.handlers.email import templates as tpl
from skene_cdc.handlers.email.actions import find_use
from skene_cdc.handlers.email.recipients import recipient
from skene_cdc.handlers.email.unsubscribe import Links


def decided_user(row: Mapping[str, Any]) -> dict[str, Any]:
    """The user in a delivery's context, as the loop decided on them."""
    context: dict[str, Any] = row["context"] or {}
    user = context.get("user")
    if isinstance(user, dict):
        return dict(user)
    return {k: v for k, v in context.items() if k not in ("event", "personalization")}


def render_delivery(config: Config, templates: tpl.Templates, row: Mapping[str, Any],
                    fresh_user: Mapping[str, Any] | None,
                    links: Links | None = None) -> dict[str, Any]:
    """{from, to, subject, html, text, reply_to, headers}, or SkeneError (a TemplateProblem, or
    no address) naming why this delivery cannot be sent. `links` gives the email its own signed
    unsubscribe link and List-Unsubscribe headers (the sender's); without it, the preview link."""
    context: dict[str, Any] = row["context"] or {}
    # What the loop decided on wins; the skene.users row only fills in what it lacks.
    user = decided_user(row)
    for key, value in (fresh_user or {}).items():
        if user.get(key) is None:
            user[key] = value
    user.setdefault("user_id", row["user_id"])
    event = context.get("event")
    personalization = context.get("personalization")
    if not isinstance(personalization, dict):
        use = find_use(config, row["template"], row["loop"])
        personalization = dict(use.action.personalization) if use else {}
    where = f"{config.source} loop {row['loop']}"
    link = links.for_delivery(row) if links is not None else None
    rendered = templates.render(row["template"], tpl.variables(
        personalization, user, event, where,
        unsubscribe_url=link.url if link else tpl.PREVIEW_UNSUBSCRIBE_URL))
    to = row["to_address"] or user.get("email")
    if not to:
        raise SkeneError(f"user {row['user_id']} has no email address",
                         hint="Check app.users.email in skene.yaml and the user's row")
    to = recipient(str(to))  # again at send time: a permanent error (dead), never expanded
    return {"from": config.email.from_, "to": to, "subject": rendered.subject,
            "html": rendered.html, "text": rendered.text, "reply_to": config.email.reply_to,
            "headers": link.headers if link else {}}
