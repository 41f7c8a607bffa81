"""`skene-cdc check` for the freemium gate and Redis (Stripe's are billing/checks.py):
read-only, every problem at once."""

from __future__ import annotations

from collections.abc import Iterator

import redis

from skene_cdc.checks import CheckContext, Problem
from skene_cdc.config.loops import BlockAction
from skene_cdc.errors import ConfigError, first_line
from skene_cdc.freemium.meter import redis_config
from skene_cdc.freemium.rules import build_rules
from skene_cdc.streams.consumer import redact_redis


def check_freemium(ctx: CheckContext) -> Iterator[Problem]:
    cfg = ctx.config
    try:
        rules = build_rules(cfg)
    except ConfigError as exc:
        yield Problem(exc.where or cfg.source, exc.message,
                      exc.hint or "give that step `action: {type: block, message: ...}`")
        return
    if rules and cfg.redis is None:
        yield Problem(cfg.source, "freemium loops count usage in Redis but there is no `redis:` "
                      f"section (using {redact_redis(redis_config(cfg).url)})",
                      "add `redis: {url: ${REDIS_URL}}`", "warning")
    if rules and cfg.stripe is None:
        yield Problem(cfg.source, "freemium loops but no `stripe:` section: nobody becomes paid "
                      "and conversions are not tracked",
                      "add `stripe: {webhook_secret: ${STRIPE_WEBHOOK_SECRET}}` and run "
                      "`skene-cdc serve`", "warning")
    for i, loop in enumerate(cfg.loops):
        for s, step in enumerate(loop.steps):
            act = step.action
            if not isinstance(act, BlockAction) or act.upgrade_prompt is None:
                continue
            prompt = act.upgrade_prompt
            where = cfg.where("loops", i, "steps", s, "action", "upgradePrompt")
            names = [v.template for v in prompt.variants] or (
                [prompt.template] if prompt.template else [])
            if not names:
                yield Problem(where, f"loop {loop.name!r}: the upgrade prompt names no template",
                              "add `template: upgrade_prompt` (templates/upgrade_prompt.html)")
            for name in names:
                if not (cfg.templates_dir() / f"{name}.html").is_file():
                    yield Problem(where, f"template {name!r} not found in {cfg.templates_dir()}",
                                  f"create {cfg.email.templates}/{name}.html with a `subject:` "
                                  "front matter")


def check_redis(ctx: CheckContext) -> Iterator[Problem]:
    cfg = ctx.config
    try:
        needed = bool(build_rules(cfg)) or bool(cfg.redis and cfg.redis.streams)
    except ConfigError:
        needed = cfg.redis is not None
    if not needed:
        return
    rc = redis_config(cfg)
    where = cfg.where("redis", "url") if cfg.redis else "environment"
    try:
        with redis.Redis.from_url(rc.url, socket_timeout=2, socket_connect_timeout=2) as r:
            r.ping()
    except redis.RedisError as exc:
        reason = first_line(exc)
        yield Problem(where, f"Redis at {redact_redis(rc.url)} is unreachable ({reason})",
                      "start Redis, or fix redis.url / REDIS_URL")
