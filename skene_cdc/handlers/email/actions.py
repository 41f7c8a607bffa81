"""Where skene.yaml uses email: every template a loop can send, with its personalization."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from skene_cdc.config import Config
from skene_cdc.config.loops import BlockAction, EmailAction, Loop, Step


@dataclass(frozen=True)
class EmailUse:
    loop: Loop
    step: Step
    action: EmailAction
    template: str
    provider: str
    path: tuple[str | int, ...]  # config path of the template name, for Config.where()


def email_uses(config: Config) -> Iterator[EmailUse]:
    """action.template, its variants, and a block action's upgradePrompt (and its variants)."""
    for li, loop in enumerate(config.loops):
        for si, step in enumerate(loop.steps):
            base: tuple[str | int, ...] = ("loops", li, "steps", si, "action")
            action = step.action
            if isinstance(action, BlockAction):
                if action.upgrade_prompt is None:
                    continue
                action, base = action.upgrade_prompt, (*base, "upgradePrompt")
            provider = action.provider or config.email.provider
            if action.template:
                yield EmailUse(loop, step, action, action.template, provider,
                               (*base, "template"))
            for vi, variant in enumerate(action.variants):
                yield EmailUse(loop, step, action, variant.template, provider,
                               (*base, "variants", vi, "template"))


def find_use(config: Config, template: str, loop: str | None = None) -> EmailUse | None:
    """The first use of `template` (in `loop`, when given)."""
    for use in email_uses(config):
        if use.template == template and (loop is None or use.loop.name == loop):
            return use
    return None


def providers_used(config: Config) -> dict[str, str]:
    """provider name -> where it is chosen (the default provider is always in use)."""
    used: dict[str, str] = {config.email.provider: config.where("email", "provider")}
    for use in email_uses(config):
        if use.action.provider and use.provider not in used:
            used[use.provider] = config.where(*use.path[:-1], "provider")
    return used
