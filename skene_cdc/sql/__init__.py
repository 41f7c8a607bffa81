"""SQL lives in .sql files beside this module and is loaded by name, so a DBA can read it whole."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """Return the text of `skene_cdc/sql/<name>.sql`; `name` may name a sub-folder (`a/b`)."""
    return resources.files(__package__).joinpath(*f"{name}.sql".split("/")).read_text("utf-8")
