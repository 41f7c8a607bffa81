"""pgoutput's text values as the JSON PostgreSQL's `to_json(row)` gives, value for value.

The rule both capture modes follow: a captured row is `to_json(row)` under the settings in
PINNED_SETTINGS, whatever the writer's session had. The trigger computes it in a function with
those SET clauses; here the walsender session runs with the same settings (walstream.py), so every
type whose JSON is simply its output text (interval, bytea, money, ranges, enums, inet, …) arrives
already in the right form, and only what to_json does not take from the output text is rebuilt:

- domains count as their base type (to_json looks through them);
- booleans become true/false; int2/int4/int8/float4/float8/numeric JSON numbers (NaN and
  ±Infinity stay strings: not JSON numbers). Nothing else is a number: `oid` and `money` are
  strings, as in to_json;
- timestamp/timestamptz get to_json's ISO 8601 form (`T`, `+00:00`, ` BC`, years past 9999 and
  ±infinity kept); dates are the ISO DateStyle text already;
- json/jsonb are embedded as their text;
- arrays (any dimensions; bounds dropped, as to_json drops them) and composites (field names from
  the catalog) are rebuilt element by element with the element type's own rule;
- a type with its own cast to json is rendered by that cast in to_json; hstore's cast is
  rebuilt here, any other comes out as a JSON string (a documented difference).

What the catalog knows about non-built-in types (domains' bases, arrays' elements, composites'
fields, casts to json) comes from `logical/captured_tables.sql` as `TypeMap`. No value can make a
converter raise: text that does not parse as its type's catalog entry says (the type changed while
the stream was behind) is captured as a JSON string and logged once per type.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as json_str
from typing import Any, Final

from skene_cdc.listener import pgtext

log = logging.getLogger("skene.logical")

Conv = Callable[[str], str]

# The settings a captured row's JSON is computed under, in both modes (docs/logical.md). The
# empty search_path is what the SECURITY DEFINER trigger function has always run with; it decides
# how reg* types (regclass, regtype, …) are qualified.
PINNED_SETTINGS: Final = (("TimeZone", "UTC"), ("DateStyle", "ISO, MDY"),
                          ("IntervalStyle", "postgres"), ("extra_float_digits", "1"),
                          ("bytea_output", "hex"), ("search_path", ""))
FIRST_NORMAL_OID: Final = 16384  # types below it are built in (to_json ignores their casts)

BOOL, INT8, INT2, INT4, FLOAT4, FLOAT8, NUMERIC = 16, 20, 21, 23, 700, 701, 1700
JSON, JSONB, DATE, TIMESTAMP, TIMESTAMPTZ = 114, 3802, 1082, 1114, 1184
NUMBERS: Final = frozenset({INT2, INT4, INT8, FLOAT4, FLOAT8, NUMERIC})

# Built-in array types (element OID; `box[]` is the one with another delimiter): so a column
# added mid-stream with one of these still decodes before the catalog is read again.
BUILTIN_ARRAYS: Final[dict[int, tuple[int, str]]] = {
    1000: (BOOL, ","), 1005: (INT2, ","), 1007: (INT4, ","), 1016: (INT8, ","),
    1021: (FLOAT4, ","), 1022: (FLOAT8, ","), 1231: (NUMERIC, ","), 1009: (25, ","),
    1015: (1043, ","), 1014: (1042, ","), 1003: (19, ","), 1002: (18, ","), 1028: (26, ","),
    2951: (2950, ","), 1182: (DATE, ","), 1115: (TIMESTAMP, ","), 1185: (TIMESTAMPTZ, ","),
    1183: (1083, ","), 1270: (1266, ","), 1187: (1186, ","), 199: (JSON, ","),
    3807: (JSONB, ","), 1001: (17, ","), 1041: (869, ","), 651: (650, ","), 1040: (829, ","),
    1020: (603, ";"), 22: (INT2, ","), 30: (26, ","),
}


def pinned_options() -> str:
    """PINNED_SETTINGS as a libpq `options` string (spaces in values backslash-escaped)."""
    return " ".join(f"-c {name}={value.replace(' ', chr(92) + ' ')}"
                    for name, value in PINNED_SETTINGS)


@dataclass(frozen=True, slots=True)
class PgType:
    """One type as the catalog describes it (logical/captured_tables.sql, `types`)."""

    name: str
    kind: str  # domain | array | composite | cast | scalar
    base: int = 0  # domain: the type it is over
    elem: int = 0  # array: the element type
    delim: str = ","  # array: the element type's delimiter
    fields: tuple[tuple[str, int], ...] = ()  # composite: (name, type) of live attributes
    cast: str = ""  # cast: the function to_json calls

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PgType:
        return cls(str(d.get("name", "?")), str(d.get("kind", "scalar")), int(d.get("base", 0)),
                   int(d.get("elem", 0)), str(d.get("delim", ",")),
                   tuple((str(n), int(t)) for n, t in d.get("fields", ())),
                   str(d.get("cast", "")))


TypeMap = Mapping[int, PgType]


def parse_types(raw: Mapping[str, Any] | None) -> dict[int, PgType]:
    return {int(oid): PgType.from_json(d) for oid, d in (raw or {}).items()}


# -- scalars -----------------------------------------------------------------------------------

def as_string(v: str) -> str:
    return json_str(v)


def number(v: str) -> str:
    # Every finite int/float/numeric output is a valid JSON number and ends with a digit;
    # NaN, Infinity, -Infinity do not, and to_json quotes them.
    return v if v[-1:].isdigit() else json_str(v)


def boolean(v: str) -> str:
    return "true" if v == "t" else "false"


def raw_json(v: str) -> str:
    return v


def same(v: str) -> str:
    return v


def iso_timestamp(v: str) -> str:
    """The ISO DateStyle text of a timestamp/timestamptz -> to_json's form:
    '2024-01-01 10:00:00.5+00' -> '2024-01-01T10:00:00.5+00:00', '0044-03-15 12:00:00+00 BC'
    -> '0044-03-15T12:00:00+00:00 BC', '294276-12-31 23:59:59+00' -> '294276-12-31T23:59:59+00:00';
    infinity and -infinity unchanged."""
    if v.endswith("+00") and len(v) >= 22 and v[10] == " ":  # the common case, in UTC
        return v[:10] + "T" + v[11:] + ":00"
    sp = v.find(" ")
    if sp < 0:
        return v
    bc = v.endswith(" BC")
    s = v[:sp] + "T" + v[sp + 1:len(v) - 3 if bc else len(v)]
    sign = max(s.rfind("+", sp), s.rfind("-", sp))
    if sign > 0 and len(s) - sign == 3:  # '+HH': to_json always writes the minutes
        s += ":00"
    return s + " BC" if bc else s


def timestamp_json(v: str) -> str:
    if v.endswith("+00") and len(v) >= 22 and v[10] == " ":
        return '"' + v[:10] + "T" + v[11:] + ':00"'
    return json_str(iso_timestamp(v))


def utc_timestamp(v: str) -> str:
    """A `timestamp without time zone` event time is UTC (the documented rule): say so."""
    if not v[:1].isdigit():
        return v  # infinity, -infinity
    s = iso_timestamp(v)
    return s[:-3] + "+00:00 BC" if s.endswith(" BC") else s + "+00:00"


def utc_date(v: str) -> str:
    """A `date` event time is midnight UTC."""
    if not v[:1].isdigit():
        return v
    return v[:-3] + "T00:00:00+00:00 BC" if v.endswith(" BC") else v + "T00:00:00+00:00"


def unquote(fragment: str) -> str:
    """`json ->> key`: a JSON string's contents, any other JSON value's text."""
    if fragment.startswith('"'):
        try:
            return str(json.loads(fragment))
        except ValueError:
            return fragment
    return fragment


# -- structured values -------------------------------------------------------------------------

def _array_json(items: pgtext.ArrayItems, conv: Conv) -> str:
    return "[" + ",".join("null" if x is None else _array_json(x, conv) if isinstance(x, list)
                          else conv(x) for x in items) + "]"


def _hstore_json(v: str) -> str:
    # hstore_to_json's own layout: ", " and ": " separators, values always strings.
    return "{" + ", ".join(json_str(k) + ": " + ("null" if x is None else json_str(x))
                           for k, x in pgtext.parse_hstore(v)) + "}"


_warned: set[str] = set()


def _guarded(fn: Conv, type_name: str) -> Conv:
    def conv(v: str) -> str:
        try:
            return fn(v)
        except Exception as exc:  # noqa: BLE001 - one odd value must never stop the stream
            if type_name not in _warned:
                _warned.add(type_name)
                log.warning("logical: a %s value did not parse as the catalog describes the type "
                            "(%s); captured as a JSON string. Was the type altered while the "
                            "listener was behind?", type_name, exc)
            return json_str(v)
    return conv


class Renderer:
    """Converters per type OID, built once per type and cached: `fragment` (the value in
    to_json's JSON), `as_text` (`to_json(row) ->> column`), `event_time` (text for a timestamptz
    column, a value without zone read as UTC)."""

    def __init__(self, types: TypeMap) -> None:
        self.types = types
        self._fragment: dict[int, Conv] = {}

    def known(self, oid: int) -> bool:
        return oid < FIRST_NORMAL_OID or oid in self.types

    def resolve(self, oid: int) -> int:
        """Through any chain of domains to the base type."""
        for _ in range(100):
            t = self.types.get(oid)
            if t is None or t.kind != "domain":
                return oid
            oid = t.base
        return oid

    def fragment(self, oid: int) -> Conv:
        conv = self._fragment.get(oid)
        if conv is None:
            conv = self._fragment[oid] = self._build(self.resolve(oid))
        return conv

    def _build(self, oid: int) -> Conv:
        if oid == BOOL:
            return boolean
        if oid in NUMBERS:
            return number
        if oid in (TIMESTAMP, TIMESTAMPTZ):
            return timestamp_json
        if oid in (JSON, JSONB):
            return raw_json
        t = self.types.get(oid)
        if t is None and oid in BUILTIN_ARRAYS:
            elem, delim = BUILTIN_ARRAYS[oid]
            t = PgType(f"oid {oid}", "array", elem=elem, delim=delim)
        if t is None:
            return as_string  # date, text, uuid, interval, bytea, …: the output text
        if t.kind == "array":
            el, delim = self.fragment(t.elem), t.delim
            return _guarded(lambda v: _array_json(pgtext.parse_array(v, delim), el), t.name)
        if t.kind == "composite":
            keys = [json_str(name) + ":" for name, _ in t.fields]
            convs = [self.fragment(ftype) for _, ftype in t.fields]

            def composite(v: str) -> str:
                values = pgtext.parse_record(v)
                if not convs:
                    return "{}"
                if len(values) != len(convs):
                    raise ValueError(f"{len(values)} fields, the type has {len(convs)}")
                return "{" + ",".join(k + ("null" if x is None else c(x))
                                      for k, c, x in zip(keys, convs, values, strict=True)) + "}"
            return _guarded(composite, t.name)
        if t.kind == "cast" and t.cast == "hstore_to_json":
            return _guarded(_hstore_json, t.name)
        return as_string

    def as_text(self, oid: int) -> Conv:
        base = self.resolve(oid)
        if base == BOOL:
            return boolean
        if base in (TIMESTAMP, TIMESTAMPTZ):
            return iso_timestamp
        frag = self.fragment(oid)
        if frag is as_string or frag is number:
            return same  # a JSON string's contents, or a number's own text
        return lambda v: unquote(frag(v))

    def event_time(self, oid: int) -> Conv:
        base = self.resolve(oid)
        if base == TIMESTAMPTZ:
            return iso_timestamp
        if base == TIMESTAMP:
            return utc_timestamp
        if base == DATE:
            return utc_date
        return self.as_text(oid)
