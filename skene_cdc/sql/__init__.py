"""SQL lives in .sql files beside this module and is loaded by name, so a DBA can read it whole.

Every name the code loads exists and every file is loaded (tests/fast/test_sql_names.py): a typo
or a dead file fails a test, not the line that runs it one day in production."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import LiteralString


@cache
def load(name: LiteralString) -> LiteralString:
    """Return the text of `skene_cdc/sql/<name>.sql`; `name` may name a sub-folder (`a/b`).

    Typed LiteralString, as psycopg wants query text: the files ship with skene and are never
    built from input (values go in as parameters, identifiers through psycopg.sql). (mypy takes
    str for LiteralString; a stricter checker would want a cast here, and only here.)"""
    return resources.files(__package__).joinpath(*f"{name}.sql".split("/")).read_text("utf-8")
