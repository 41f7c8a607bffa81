"""Rows jsonb cannot hold, made storable: the queue keeps a captured row as `json` text (which
never fails the app's write), and the rare value jsonb refuses is repaired here, with a note of
what changed, instead of stopping the batch.

jsonb refuses the escape `\\u0000` (text cannot hold NUL) and numbers outside PostgreSQL's
numeric range (`1e1000000`). A NUL becomes U+FFFD; such a number becomes a string of its
digits. The note in `skene.events.notes` lists the paths that were repaired."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

# PostgreSQL's numeric: up to 131072 digits before the point, 16383 after.
MAX_EXPONENT = 131071
MIN_EXPONENT = -16383
REPLACEMENT = "\ufffd"


class _BigNumber(str):
    """A number kept as its text because jsonb cannot hold it."""


def _number(text: str) -> Any:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return _BigNumber(text)
    exp = value.adjusted()
    if value and not (MIN_EXPONENT <= exp <= MAX_EXPONENT):
        return _BigNumber(text)
    return value


def repair(text: str | None) -> tuple[Any, dict[str, list[str]] | None]:
    """Parse `text` (a json document) into a value jsonb accepts; the note says what changed."""
    if text is None:
        return None, None
    value = json.loads(text, parse_float=_number, parse_int=_number,
                       parse_constant=_BigNumber)
    notes: dict[str, list[str]] = {}
    fixed = _walk(value, "$", notes)
    return fixed, notes or None


def _walk(value: Any, path: str, notes: dict[str, list[str]]) -> Any:
    if isinstance(value, _BigNumber):
        notes.setdefault("numbers_as_text", []).append(path)
        return str(value)
    if isinstance(value, str):
        if "\x00" in value:
            notes.setdefault("nul_replaced", []).append(path)
            return value.replace("\x00", REPLACEMENT)
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k
            if "\x00" in k:
                notes.setdefault("nul_replaced", []).append(f"{path}.{k!r}")
                key = k.replace("\x00", REPLACEMENT)
            out[key] = _walk(v, f"{path}.{key}", notes)
        return out
    if isinstance(value, list):
        return [_walk(v, f"{path}[{i}]", notes) for i, v in enumerate(value)]
    return value


def dumps(value: Any) -> str | None:
    """jsonb text for a repaired value; numbers keep their exact digits (str(Decimal) is a valid
    JSON number)."""
    if value is None:
        return None
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    elif isinstance(value, Decimal):
        out.append(str(value))
    else:  # str, bool, None
        out.append(json.dumps(value, ensure_ascii=False))
