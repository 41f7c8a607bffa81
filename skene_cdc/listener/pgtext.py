"""Parsers for the text forms PostgreSQL's output functions give structured values: arrays
(`array_out`, and the space-separated `int2vector`/`oidvector`), composites (`record_out`) and
`hstore`. pgoutput sends values as this text; pgjson.py turns the parts into JSON.

Each parser returns the element/field texts exactly as the element type's own output function
wrote them (quoting and escaping removed), None for SQL NULL, and raises ValueError on text that
is not in the form (the caller falls back to a JSON string rather than stop the stream).
"""

from __future__ import annotations

import re
from typing import Final

ArrayItems = list["str | None | ArrayItems"]

_UNESCAPE: Final = re.compile(r"\\(.)", re.S)
_QUOTED: Final = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_UNQUOTED: dict[str, re.Pattern[str]] = {}
_VECTOR: Final = re.compile(r"[-0-9 ]*")


def _unquoted(delim: str) -> re.Pattern[str]:
    pat = _UNQUOTED.get(delim)
    if pat is None:
        pat = _UNQUOTED[delim] = re.compile(r'[^"{}\\' + re.escape(delim) + r"]*")
    return pat


def parse_array(text: str, delim: str = ",") -> ArrayItems:
    """`{1,NULL,"a b"}`, `{{1,2},{3,4}}`, `[0:2]={…}` (the bounds are dropped: to_json ignores
    them too), `1 2 3` (int2vector, oidvector) -> nested lists of element texts."""
    if text.startswith("["):  # non-default lower bounds: "[lo:hi][lo:hi]=" before the braces
        text = text[text.index("=") + 1:]
    if not text.startswith("{"):
        if _VECTOR.fullmatch(text) is None:
            raise ValueError("array text does not start with '{'")
        return list(text.split())  # int2vector, oidvector: plain numbers
    if '"' not in text and "\\" not in text and text.find("{", 1) < 0:
        body = text[1:-1]  # one dimension, nothing quoted: the common case
        if not text.endswith("}"):
            raise ValueError("array text does not end with '}'")
        return [None if x == "NULL" else x for x in body.split(delim)] if body else []
    items, end = _level(text, 0, delim, _unquoted(delim))
    if end != len(text):
        raise ValueError(f"unexpected text after the array at {end}")
    return items


def _level(s: str, i: int, delim: str, unquoted: re.Pattern[str]) -> tuple[ArrayItems, int]:
    out: ArrayItems = []
    i += 1
    if s[i] == "}":
        return out, i + 1
    while True:
        c = s[i]
        if c == "{":
            sub, i = _level(s, i, delim, unquoted)
            out.append(sub)
        elif c == '"':
            m = _QUOTED.match(s, i)
            if m is None:
                raise ValueError(f"unterminated quoted array element at {i}")
            out.append(_UNESCAPE.sub(r"\1", m.group(1)))
            i = m.end()
        else:
            m = unquoted.match(s, i)
            assert m is not None  # `*` always matches
            token = m.group()
            out.append(None if token == "NULL" else token)
            i = m.end()
        c = s[i]
        if c == delim:
            i += 1
        elif c == "}":
            return out, i + 1
        else:
            raise ValueError(f"unexpected {c!r} in array text at {i}")


_FIELD_CHUNK: Final = re.compile(r'[^,"\\]+')
_QUOTED_CHUNK: Final = re.compile(r'[^"\\]+')


def parse_record(text: str) -> list[str | None]:
    """`(1,"a,b",)` -> ['1', 'a,b', None]. Inside quotes `""` is a quote and `\\x` is x (what
    record_out writes); an empty unquoted field is NULL, `""` the empty string. `()` is one NULL
    field (or no field at all: the caller knows how many the type has)."""
    if not (text.startswith("(") and text.endswith(")")):
        raise ValueError("composite text is not in parentheses")
    out: list[str | None] = []
    i, n = 1, len(text) - 1
    while True:
        parts: list[str] = []
        quoted = False
        while i < n and text[i] != ",":
            c = text[i]
            if c == '"':
                quoted = True
                i += 1
                while True:
                    if i >= n:
                        raise ValueError("unterminated quoted composite field")
                    c = text[i]
                    if c == '"':
                        if text[i + 1] == '"':
                            parts.append('"')
                            i += 2
                            continue
                        i += 1
                        break
                    if c == "\\":
                        parts.append(text[i + 1])
                        i += 2
                        continue
                    m = _QUOTED_CHUNK.match(text, i)
                    assert m is not None
                    parts.append(m.group())
                    i = m.end()
            elif c == "\\":
                parts.append(text[i + 1])
                i += 2
            else:
                m = _FIELD_CHUNK.match(text, i, n)
                assert m is not None
                parts.append(m.group())
                i = m.end()
        out.append("".join(parts) if parts or quoted else None)
        if i >= n:
            return out
        i += 1  # the comma


_HSTORE_PAIR: Final = re.compile(
    r'"((?:[^"\\]|\\.)*)"=>(?:"((?:[^"\\]|\\.)*)"|(NULL))(?:, |\Z)', re.S)


def parse_hstore(text: str) -> list[tuple[str, str | None]]:
    """`"a"=>"1", "b"=>NULL` -> [('a', '1'), ('b', None)], in hstore's own order."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    while pos < len(text):
        m = _HSTORE_PAIR.match(text, pos)
        if m is None:
            raise ValueError(f"unexpected hstore text at {pos}")
        value = None if m.group(3) else _UNESCAPE.sub(r"\1", m.group(2))
        out.append((_UNESCAPE.sub(r"\1", m.group(1)), value))
        pos = m.end()
    return out
