"""skene.yaml: load, interpolate `${VAR}`, validate, and report errors by file and line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from skene_cdc.config.loops import Loop
from skene_cdc.config.models import App, Capture, CaptureMode, Email, Events, Redis, Roles, Stripe
from skene_cdc.config.types import Strict
from skene_cdc.config.yamlsource import Path_, dotted, line_of, load_yaml, read_config_file
from skene_cdc.errors import ConfigError

__all__ = ["Config", "ConfigError", "load_config", "parse_config"]


class Config(Strict):
    version: Literal[1] = 1
    app: App
    capture: Capture = Field(default_factory=Capture)
    events: Events = Field(default_factory=Events)
    email: Email = Field(default_factory=Email)
    loops: list[Loop] = Field(default_factory=list)
    stripe: Stripe | None = None
    redis: Redis | None = None
    roles: Roles = Field(default_factory=Roles)

    _source: str = PrivateAttr(default="skene.yaml")
    _lines: dict[Path_, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_loop_names(self) -> Config:
        seen: set[str] = set()
        for loop in self.loops:
            if loop.name in seen:
                raise ValueError(f"two loops are named {loop.name!r}; loop names must be unique")
            seen.add(loop.name)
        return self

    @property
    def source(self) -> str:
        return self._source

    @property
    def base_dir(self) -> Path:
        return Path(self._source).resolve().parent

    def where(self, *path: str | int) -> str:
        """`skene.yaml:12` for a config path, for error messages raised after validation."""
        line = line_of(self._lines, tuple(path))
        return f"{self._source}:{line}" if line else self._source

    def capture_mode(self, table_mode: CaptureMode | None) -> CaptureMode:
        return table_mode or self.capture.mode

    def templates_dir(self) -> Path:
        return (self.base_dir / self.email.templates).resolve()


def parse_config(text: str, source: str = "skene.yaml",
                 env: Mapping[str, str] | None = None) -> Config:
    data, lines = load_yaml(text, source, env)
    if not isinstance(data, dict):
        raise ConfigError("the file must be a mapping with at least `version: 1` and `app:`",
                          where=source)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source, lines), where=None,
                          hint="See the skene.yaml reference in the README") from None
    config._source = source
    config._lines = lines
    return config


def load_config(path: str | os.PathLike[str]) -> Config:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} not found",
                          hint="Run `skene-cdc init` to write one, or pass --config / SKENE_CONFIG")
    return parse_config(read_config_file(p), str(p))


def _explain(exc: ValidationError, source: str, lines: Mapping[Path_, int]) -> str:
    problems = []
    for err in exc.errors():
        # Discriminated unions add the tag name to the path ("condition.dormant.days"); drop it.
        loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
        path = _strip_tags(loc)
        line = line_of(lines, path)
        where = f"{source}:{line}" if line else source
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {str(path[-1])!r}"
        elif err["type"] == "missing":
            msg = "required field is missing"
        problems.append(f"{where}: {dotted(path)}: {msg}")
    return "invalid config:\n  " + "\n  ".join(problems)


_TAGS = {"database", "schedule", "api", "event", "query", "dormant", "declining", "stopped",
         "usage", "milestone", "email", "block"}


def _strip_tags(loc: tuple[str | int, ...]) -> Path_:
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if (isinstance(part, str) and part in _TAGS and i > 0
                and loc[i - 1] in {"trigger", "condition", "action", "upgradePrompt"}):
            continue
        out.append(part)
    return tuple(out)
