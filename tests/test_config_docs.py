"""docs/config.md documents every field skene.yaml accepts, so the reference cannot drift."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pydantic import BaseModel

from skene_cdc.config import loops, models

DOC = (Path(__file__).parent.parent / "docs" / "config.md").read_text()


def fields() -> set[str]:
    out: set[str] = set()
    for module in (models, loops):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseModel) and cls.__module__ == module.__name__:
                out.update(f.alias or name for name, f in cls.model_fields.items()
                           if name != "type")
    return out


def test_every_config_field_is_documented() -> None:
    found = fields()
    assert len(found) > 40
    # A field counts as documented when it appears as a key or a dotted-path part in code.
    missing = sorted(f for f in found
                     if not re.search(r"[`.{ ]" + re.escape(f) + r"[`.\[:,} ]", DOC))
    assert missing == [], f"document these in docs/config.md: {missing}"
