"""Email: templates, providers and the sender that drains skene.deliveries.

Importing this package registers the email checks with `skene-cdc check`.

What a delivery's `context` (see handlers/outbox.enqueue) may hold, all optional:
  user             the condition's row (a row names its user by `user_id`/`id`); at send time it
                   is refreshed with the user's current skene.users row.
  event            the triggering event (handlers.base.Event as a dict), None for schedules.
  personalization  {key: template string}; by default the loop's action.personalization.
"""

from __future__ import annotations

from typing import Any

from skene_cdc.handlers.email import (
    checks,  # noqa: F401 - registers check_email
    compliance,  # noqa: F401 - registers check_compliance
)

__all__ = ["delivery_context"]


def delivery_context(user: dict[str, Any], event: dict[str, Any] | None = None,
                     personalization: dict[str, str] | None = None) -> dict[str, Any]:
    """The `context` to pass to outbox.enqueue so the sender renders what the loop decided."""
    context: dict[str, Any] = {"user": user, "event": event}
    if personalization is not None:
        context["personalization"] = personalization
    return context
