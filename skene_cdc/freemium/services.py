"""What `skene-cdc listen` runs for this area: the app's Redis Streams (capture sources) and the
gate's usage stream. Both write skene.events, so they run before the event consumer."""

from __future__ import annotations

from skene_cdc.config import Config
from skene_cdc.freemium.drain import usage_services
from skene_cdc.service import Service
from skene_cdc.streams.source import source_services


def redis_services(url: str, config: Config) -> list[Service]:
    return [*source_services(url, config), *usage_services(url, config)]
