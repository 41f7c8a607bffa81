"""`skene-cdc check` for what bulk-sender rules and anti-spam law ask of growth email
(docs/email.md#compliance): one-click unsubscribe configured with a usable key, served over
https, the webhook that reports bounces and complaints, and quiet hours able to find each user's
time zone."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import timedelta

from skene_cdc import sql
from skene_cdc.checks import CheckContext, Problem
from skene_cdc.errors import ConfigError
from skene_cdc.handlers.email.actions import email_uses
from skene_cdc.handlers.email.unsubscribe import secret_key


def check_compliance(ctx: CheckContext) -> Iterable[Problem]:
    config = ctx.config
    growth = [u for u in email_uses(config) if not u.loop.transactional]
    real = sorted({u.provider for u in growth} - {"console"})
    settings = config.email.unsubscribe
    if settings is None:
        if real:
            yield Problem(config.where("email"),
                          f"growth email goes out through {', '.join(real)} without one-click "
                          "unsubscribe: only a mailto: List-Unsubscribe (Gmail and Yahoo require "
                          "one-click from bulk senders)",
                          "add email.unsubscribe: {url: https://.../unsubscribe} and serve it "
                          "(`skene-cdc serve`, or mount skene_app in your app)",
                          severity="warning")
    else:
        try:
            secret_key(config, os.environ)
        except ConfigError as exc:
            yield Problem(exc.where or config.where("email", "unsubscribe"), exc.message,
                          exc.hint or "set the signing key")
        if settings.expires < timedelta(days=30):
            yield Problem(config.where("email", "unsubscribe", "expires"),
                          f"unsubscribe links expire after {settings.expires}; CAN-SPAM wants an "
                          "opt-out to work for at least 30 days after the email is sent",
                          "set expires: 30d or more (default 90d)", severity="warning")
        if settings.url.startswith("http://") and real:
            yield Problem(config.where("email", "unsubscribe", "url"),
                          "the unsubscribe URL is http://; mail clients only offer one-click "
                          "unsubscribe over https", "use the public https URL", severity="warning")
    if "resend" in real and config.email.resend is None:
        yield Problem(config.where("email"),
                      "Resend's bounces and complaints are not received, so skene keeps emailing "
                      "addresses that bounce or complain",
                      "add email.resend: {webhook_secret: ${RESEND_WEBHOOK_SECRET}} and point a "
                      "Resend webhook at /resend/webhook", severity="warning")
    column = config.app.users.timezone
    if column and ctx.conn is not None:
        columns = {r["column_name"] for r in
                   ctx.conn.execute(sql.load("email/users_columns")).fetchall()}
        if columns and column not in columns:
            yield Problem(config.where("app", "users", "timezone"),
                          f"skene.users has no column {column!r}, so quiet hours use "
                          f"{config.email.quiet_hours.timezone if config.email.quiet_hours else 'UTC'}"
                          " for everyone",
                          "name a column of the users table that is captured (not excluded), "
                          "then run `skene-cdc migrate`")
