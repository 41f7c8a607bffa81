"""What every command receives: where the database and skene.yaml are, loaded on first use."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from skene_cdc.config import Config, load_config
from skene_cdc.db import require_url


@dataclass
class Ctx:
    database_url: str | None
    config_path: str
    _config: Config | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return require_url(self.database_url)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


pass_ctx = click.make_pass_decorator(Ctx)
