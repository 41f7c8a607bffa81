"""Handlers: what happens to captured events beyond the activity rollups (which the consumer
keeps in SQL, listener/consume.sql): the growth loops."""

from __future__ import annotations

from skene_cdc.config import Config
from skene_cdc.handlers.base import Event, Handler

__all__ = ["Event", "Handler", "build_handlers"]


def build_handlers(config: Config) -> list[Handler]:
    """The handlers the listener dispatches every batch to, in order."""
    from skene_cdc.handlers.loops import loop_handlers

    return loop_handlers(config)  # the rollups they read are up to date in the same batch
