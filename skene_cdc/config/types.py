"""Small value types shared by the config models: durations and table names."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

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


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


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
    """Unknown keys are errors: a typo in skene.yaml must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
