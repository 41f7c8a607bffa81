"""pgoutput changes to skene.events rows, with the same meaning as the trigger `skene.capture()`.

The trigger stores `to_jsonb(NEW)` (OLD for deletes), takes user_id/event/occurred_at from the row
with `->>`, and marks inserts and updates on activity tables as activity. Here the same JSON is
built from pgoutput's text values without parsing them: numbers and booleans become JSON literals,
json/jsonb columns are embedded as they are, timestamps get to_jsonb's ISO 8601 shape, everything
else is a JSON string. The result is one line of COPY text per event, so a batch goes to the
server as a single COPY.

An unchanged TOASTed column (`u`) that the old row image cannot fill in (REPLICA IDENTITY FULL
sends the whole old row) is left out of `data` and named in `data["_unchanged_toast"]`: never NULL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from json.encoder import encode_basestring as _json_str
from typing import Final

from skene_cdc.listener import pgoutput as po

UNCHANGED_KEY: Final = "_unchanged_toast"
COPY_COLUMNS: Final = ("source, table_name, op, user_id, event, activity, data, occurred_at, lsn, "
                       "seq")

Conv = Callable[[str], str]
NULL: Final = "\\N"  # COPY text's NULL


@dataclass(frozen=True)
class TableSpec:
    """One row of skene.captured_tables: how a logically captured table maps to events."""

    table_name: str
    role: str
    user_id_column: str
    timestamp_column: str | None
    event_column: str | None

    @property
    def activity(self) -> bool:
        return self.role == "activity"


def copy_escape(s: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return must be escaped."""
    if "\\" in s:
        s = s.replace("\\", "\\\\")
    if "\n" in s or "\t" in s or "\r" in s:
        s = s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return s


# -- text value -> what to_jsonb / ->> give ------------------------------------------------------

def _number(v: str) -> str:
    # NaN and +-Infinity are JSON strings in to_jsonb; every finite number ends with a digit.
    return v if v[-1].isdigit() else _json_str(v)


def _bool(v: str) -> str:
    return "true" if v == "t" else "false"


def _raw_json(v: str) -> str:
    return v


def iso_timestamp(v: str) -> str:
    """'2024-01-01 10:00:00.5+00' (ISO DateStyle) -> '2024-01-01T10:00:00.5+00:00' (to_jsonb)."""
    if v.endswith("+00") and len(v) >= 22 and v[10] == " ":  # the walsender session is UTC
        return v[:10] + "T" + v[11:] + ":00"
    if len(v) < 19 or v[10] != " ":
        return v  # infinity, -infinity
    s = v[:10] + "T" + v[11:]
    sign = max(s.rfind("+", 19), s.rfind("-", 19))
    if sign > 0 and len(s) - sign == 3:
        s += ":00"
    return s


def _timestamp_json(v: str) -> str:
    return _json_str(iso_timestamp(v))


NUMBER_TYPES: Final = {po.INT2, po.INT4, po.INT8, po.OID, po.FLOAT4, po.FLOAT8, po.NUMERIC}
JSON_FRAGMENT: Final[dict[int, Conv]] = {
    **{t: _number for t in NUMBER_TYPES},
    po.BOOL: _bool, po.JSON: _raw_json, po.JSONB: _raw_json,
    po.TIMESTAMP: _timestamp_json, po.TIMESTAMPTZ: _timestamp_json,
}
# `row ->> col`: the JSON value as text (strings unquoted).
AS_TEXT: Final[dict[int, Conv]] = {
    po.BOOL: _bool, po.TIMESTAMP: iso_timestamp, po.TIMESTAMPTZ: iso_timestamp,
}


def _same(v: str) -> str:
    return v


@dataclass
class Rendered:
    """One event without its transaction's commit position: `occurred_at` is None when the row
    has no event-time value (the commit time is used, known once the transaction commits)."""

    body: str
    occurred_at: str | None


class RelationMapper:
    """Everything per relation computed once (on every Relation message, so ALTER TABLE mid-stream
    rebuilds it), leaving only per-value work for each change."""

    def __init__(self, rel: po.Relation, spec: TableSpec) -> None:
        self.rel = rel
        self.spec = spec
        names = [c.name for c in rel.columns]
        self.keys = [_json_str(n) + ":" for n in names]
        self.convs = [JSON_FRAGMENT.get(c.type_oid, _json_str) for c in rel.columns]
        self.key_cols = [i for i, c in enumerate(rel.columns) if c.key]

        def find(col: str | None) -> tuple[int, Conv] | None:
            if col is None or col not in names:
                return None
            i = names.index(col)
            return i, AS_TEXT.get(rel.columns[i].type_oid, _same)

        self.user = find(spec.user_id_column)
        self.ts = find(spec.timestamp_column)
        self.event = find(spec.event_column)
        table = copy_escape(spec.table_name)
        self.prefix = {op: f"{table}\t{op}\t" for op in ("insert", "update", "delete")}
        self.default_event = {op: copy_escape(f"{rel.name}.{op}")
                              for op in ("insert", "update", "delete", "truncate")}
        self.truncate_body = f"{table}\ttruncate\t\\N\t{self.default_event['truncate']}\tf\t\\N"

    def render(self, op: str, values: list[po.Value], only: list[int] | None = None) -> Rendered:
        parts: list[str] = []
        unchanged: list[str] | None = None
        if only is None:
            for key, conv, v in zip(self.keys, self.convs, values, strict=True):
                if v.__class__ is str:
                    parts.append(key + conv(v))
                elif v is None:
                    parts.append(key + "null")
                elif v is po.UNCHANGED:
                    (unchanged := unchanged or []).append(key[:-1])
                else:  # binary ('b'): only if someone asked for binary mode; keep it readable
                    parts.append(key + _json_str(bytes(v).hex()))  # type: ignore[arg-type]
        else:
            for i in only:
                v = values[i]
                parts.append(self.keys[i] + (self.convs[i](v) if isinstance(v, str) else "null"))
        if unchanged:
            parts.append(_json_str(UNCHANGED_KEY) + ":[" + ",".join(unchanged) + "]")
        data = copy_escape("{" + ",".join(parts) + "}")
        user = event = occurred = None
        if self.user is not None:
            v = values[self.user[0]]
            user = self.user[1](v) if v.__class__ is str else None
        if self.event is not None:
            v = values[self.event[0]]
            event = self.event[1](v) if v.__class__ is str else None
        if self.ts is not None:
            v = values[self.ts[0]]
            occurred = self.ts[1](v) if v.__class__ is str else None
        activity = "t" if self.spec.activity and op != "delete" else "f"
        body = (f"{self.prefix[op]}{NULL if user is None else copy_escape(user)}\t"
                f"{self.default_event[op] if event is None else copy_escape(event)}\t"
                f"{activity}\t{data}")
        return Rendered(body, occurred)

    def insert(self, change: po.Insert) -> Rendered:
        return self.render("insert", change.new)

    def update(self, change: po.Update) -> Rendered:
        new = change.new
        if change.old_kind == "O" and change.old is not None and po.UNCHANGED in new:
            # REPLICA IDENTITY FULL: the old row carries the untouched TOASTed values.
            old = change.old
            new = [old[i] if v is po.UNCHANGED else v for i, v in enumerate(new)]
        return self.render("update", new)

    def delete(self, change: po.Delete) -> Rendered:
        # 'K' (the replica identity key): the other columns are not known, so leave them out
        # rather than claim they were NULL.
        only = self.key_cols if change.old_kind == "K" else None
        return self.render("delete", change.old, only)


def copy_line(body: str, occurred_at: str, lsn: str, seq: int) -> str:
    return f"logical\t{body}\t{occurred_at}\t{lsn}\t{seq}\n"
