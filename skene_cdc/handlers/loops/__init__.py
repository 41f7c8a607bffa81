"""The loop engine: activation, retention and milestone loops from skene.yaml, evaluated in SQL.

`loop_handlers(config)` plugs into the listener's batch (handlers/__init__.build_handlers);
`loop_services(url, config)` into `listen` (runtime/services.build_services). Both validate the
loops first and refuse to start with a ConfigError that lists every problem."""

from __future__ import annotations

from skene_cdc.config import Config
from skene_cdc.handlers.base import Handler
from skene_cdc.handlers.loops.handler import LoopHandler
from skene_cdc.handlers.loops.plan import require_plans
from skene_cdc.service import Service

__all__ = ["loop_handlers", "loop_services"]


def loop_handlers(config: Config) -> list[Handler]:
    handlers: list[Handler] = []
    plans = require_plans(config)
    if any(p.mode != "schedule" for p in plans) or any(lp.type == "retention"
                                                       for lp in config.loops):
        handlers.append(LoopHandler(config, plans))
    return handlers


def loop_services(url: str, config: Config) -> list[Service]:
    from skene_cdc.handlers.loops.schedule import LoopScheduler

    plans = require_plans(config)
    return [LoopScheduler(url, config, plans)] if plans else []
