"""What every command receives: where the database and skene.yaml are, loaded on first use.

Imported by cli/main.py for every call, so it imports nothing heavy itself: the config (pydantic)
and the database URL check load when a command first asks for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from skene_cdc.config import Config


@dataclass
class Ctx:
    database_url: str | None
    config_path: str
    _config: Config | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        from skene_cdc.db import require_url

        return require_url(self.database_url)

    @property
    def config(self) -> Config:
        if self._config is None:
            from skene_cdc.config import load_config

            self._config = load_config(self.config_path)
        return self._config


pass_ctx = click.make_pass_decorator(Ctx)
