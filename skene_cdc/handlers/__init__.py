"""Handlers: what happens to captured events (the activity rollup, the growth loops)."""

from __future__ import annotations

from skene_cdc.config import Config
from skene_cdc.handlers.base import Event, Handler
from skene_cdc.handlers.rollup import ActivityRollup

__all__ = ["Event", "Handler", "build_handlers"]


def build_handlers(config: Config) -> list[Handler]:
    """The handlers the listener dispatches every batch to, in order."""
    from skene_cdc.handlers.loops import loop_handlers

    handlers: list[Handler] = [ActivityRollup()]
    handlers += loop_handlers(config)  # after the rollup: conditions read what it wrote
    return handlers
