"""A verified webhook body -> a Stripe event skene can store, or MalformedEvent with the reason.

A signature proves who sent a body, not that it is an event: a signed `[1,2]`, `null`, a
100k-deep array or `"created": "abc"` must be refused with a 400 that says why, never reach the
database and fail there (a 500 Stripe retries for days). Two values are valid JSON but not
valid jsonb: a `\\u0000` or an unpaired surrogate (`\\ud800`) in a string (each stored as U+FFFD,
the replacement character) and a number out of float range (refused)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Stripe's objects are a handful of levels deep; anything far deeper is not from its API.
MAX_DEPTH = 64
MAX_ID = 255          # Stripe ids are ~30 characters; they become primary keys
MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z: beyond it no datetime holds the value
NUL = "\x00"
NUL_SAFE = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class MalformedEvent(ValueError):
    """A signed body that is not a Stripe event skene can use; `reason` goes back in the 400."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_event(body: bytes) -> dict[str, Any]:
    """The event in a verified body, NULs replaced; MalformedEvent when it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedEvent("the body is not UTF-8 text") from None
    return parse_text(text)


def parse_text(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise MalformedEvent("the body is nested too deeply to be a Stripe event") from None
    except ValueError as exc:
        raise MalformedEvent(f"the body is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise MalformedEvent(f"the body is not a JSON object but {_kind(value)}")
    make_storable(value)
    check_envelope(value)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def make_storable(root: dict[str, Any] | list[Any]) -> None:
    """In place and without recursion (depth is what an attacker controls): replace NUL and
    unpaired surrogates in strings and keys, refuse numbers jsonb cannot hold, refuse nesting
    past MAX_DEPTH."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedEvent(f"the event is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key in [k for k in node if _UNSTORABLE.search(k)]:
                node[storable(key)] = node.pop(key)
            items: Any = node.items()
        else:
            items = enumerate(node)
        for key, value in list(items):
            if isinstance(value, str):
                if _UNSTORABLE.search(value):
                    node[key] = storable(value)
            elif isinstance(value, dict | list):
                stack.append((value, depth + 1))
            elif isinstance(value, float) and not math.isfinite(value):
                raise MalformedEvent("a number is out of range (it overflows a double)")


def storable(text: str) -> str:
    return _UNSTORABLE.sub(NUL_SAFE, text)


def check_envelope(event: dict[str, Any]) -> None:
    for field in ("id", "type"):
        value = event.get(field)
        if not isinstance(value, str) or not value:
            raise MalformedEvent(f"{field} is missing or not a string")
        if len(value) > MAX_ID:
            raise MalformedEvent(f"{field} is longer than {MAX_ID} characters")
    created = event.get("created")
    if unix_time(created) is None:
        raise MalformedEvent(f"created is not a Unix time in seconds (got {_show(created)})")
    data = event.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent(f"data is not an object but {_kind(data)}")
    if not isinstance(data.get("object"), dict):
        raise MalformedEvent(f"data.object is not an object but {_kind(data.get('object'))}")


def unix_time(value: Any) -> int | None:
    """Seconds since the epoch as Stripe writes them (an integer), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TIME:
        return value
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number")


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
