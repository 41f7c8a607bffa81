"""Small value types shared by the config models: durations and table names."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 5m, 2h, 7d")


def format_duration(value: timedelta) -> str:
    """The way skene.yaml writes it (`7d`, `90s`, `250ms`), so a stored definition reads back."""
    us = value // timedelta(microseconds=1)
    if us == 0:
        return "0s"
    for unit in ("d", "h", "m", "s", "ms"):
        size = round(_UNITS[unit] * 1_000_000)
        if us % size == 0:
            return f"{us // size}{unit}"
    return f"{us / 1_000_000}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration),
                     PlainSerializer(format_duration, when_used="json")]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_OFF = ("off", "none", "0", "unlimited", "-1")


def parse_size(value: Any) -> int:
    """'1GB', '512MB', '64kB' (or '1G', '512m') -> bytes, in PostgreSQL's units (powers of
    1024)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = _SIZE.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{value!r} is not a size; write e.g. 512MB, 10GB")
    unit = m.group(2).lower() or "b"
    return int(float(m.group(1)) * _SIZE_UNITS[unit if unit.endswith("b") else unit + "b"])


def parse_limit(value: Any) -> int | None:
    """A size, or None for no limit ('off', 'unlimited', 0, -1)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _OFF) or \
            (isinstance(value, int) and not isinstance(value, bool) and value in (0, -1)):
        return None
    try:
        return parse_size(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a size; write e.g. 512MB, 1GB, 20GB (or off)") from None


def format_size(value: int) -> str:
    """Bytes in the largest PostgreSQL unit that holds them exactly (`1GB`, `512kB`): what
    skene.yaml and `ALTER SYSTEM` write."""
    for unit, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}B"


Size = Annotated[int, BeforeValidator(parse_size)]
# A size that may be `off`: parsed once, here, so every reader gets bytes or None.
Limit = Annotated[int | None, BeforeValidator(parse_limit)]


_IDENT = r'(?:[^\W\d][\w$]*|"(?:[^"]|"")+")'
_TABLE = re.compile(rf"^{_IDENT}(?:\.{_IDENT})?$")


def table_name(value: Any) -> Any:
    """A table as `schema.table` or `table`, each part one identifier (quoted if it must be):
    anything else (`public.users; DROP TABLE x`) is refused here, before it meets the database."""
    if isinstance(value, str) and not _TABLE.match(value):
        raise ValueError(f"{value!r} is not a table name; write schema.table (e.g. public.users), "
                         'with double quotes around a part that needs them ("My Table")')
    return value


TableName = Annotated[str, BeforeValidator(table_name)]


def split_table(name: str) -> tuple[str | None, str]:
    """`public.users` -> ("public", "users"); `users` -> (None, "users")."""
    schema, _, table = name.rpartition(".")
    return (schema or None, table)


class Strict(BaseModel):
    """Unknown keys are errors: a typo in skene.yaml must not be silently ignored.

    `.inf` (a freemium `limit.paid`) is serialised as "Infinity", which JSON and PostgreSQL's
    jsonb accept and which validates back to the same float (see `as_json`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True,
                              ser_json_inf_nan="strings")


def as_json(model: BaseModel) -> Any:
    """A config model as plain JSON data that jsonb stores and `model_validate` reads back to an
    equal model (durations as ISO 8601, `.inf` as "Infinity", keys by their skene.yaml names)."""
    return json.loads(model.model_dump_json(by_alias=True))
