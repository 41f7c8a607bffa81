"""pgoutput changes to capture-queue rows, with the same meaning as the trigger `skene.capture()`.

The trigger queues `to_json(NEW)` (OLD for deletes) of the columns skene.yaml keeps; the
listener's consumer then reads user, event and time from it by the table's registration, for
both modes alike. Here the same JSON is built from pgoutput's text values without parsing them:
numbers and booleans become JSON literals, json/jsonb columns are embedded as they are,
timestamps get to_json's ISO 8601 shape, everything else is a JSON string. The result is one
line of COPY text per change, so a batch goes to the server as a single COPY.

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
COPY_COLUMNS: Final = "tbl, op, data, at, meta"

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
    column_mode: str = "all"
    column_list: tuple[str, ...] | list[str] = ()
    capture_unchanged: bool = False

    @property
    def activity(self) -> bool:
        return self.role == "activity"

    def keeps(self, column: str) -> bool:
        if self.column_mode == "include":
            return column in self.column_list
        if self.column_mode == "exclude":
            return column not in self.column_list
        return True


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
        # The columns that leave the table (skene.yaml's include/exclude, like the trigger).
        self.kept = [i for i, n in enumerate(names) if spec.keeps(n)]
        self.all_kept = len(self.kept) == len(names)
        self.prefix = {op: f"{rel.oid}\t{op}\t" for op in ("insert", "update", "delete")}
        self.truncate_body = f"{rel.oid}\ttruncate\t\\N"

    def render(self, op: str, values: list[po.Value], only: list[int] | None = None) -> Rendered:
        parts: list[str] = []
        unchanged: list[str] | None = None
        if only is None and self.all_kept:
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
            for i in (self.kept if only is None else [i for i in only if i in self.kept]):
                v = values[i]
                if v is po.UNCHANGED:
                    (unchanged := unchanged or []).append(self.keys[i][:-1])
                else:
                    parts.append(self.keys[i] + (self.convs[i](v) if isinstance(v, str)
                                                 else "null"))
        if unchanged:
            parts.append(_json_str(UNCHANGED_KEY) + ":[" + ",".join(unchanged) + "]")
        return Rendered(self.prefix[op] + copy_escape("{" + ",".join(parts) + "}"), None)

    def unchanged(self, new: list[po.Value], old: list[po.Value] | None) -> bool:
        """An update that changed no kept column (known only with the whole old row)."""
        if old is None or self.spec.capture_unchanged:
            return False
        return all(new[i] == old[i] for i in self.kept)

    def insert(self, change: po.Insert) -> Rendered:
        return self.render("insert", change.new)

    def update(self, change: po.Update) -> Rendered | None:
        new = change.new
        old = change.old if change.old_kind == "O" else None
        if old is not None and po.UNCHANGED in new:
            # REPLICA IDENTITY FULL: the old row carries the untouched TOASTed values.
            new = [old[i] if v is po.UNCHANGED else v for i, v in enumerate(new)]
        if self.unchanged(new, old):
            return None  # like the trigger: not an event
        return self.render("update", new)

    def delete(self, change: po.Delete) -> Rendered:
        # 'K' (the replica identity key): the other columns are not known, so leave them out
        # rather than claim they were NULL.
        only = self.key_cols if change.old_kind == "K" else None
        return self.render("delete", change.old, only)


def copy_line(body: str, commit_time: str, lsn: str, seq: int) -> str:
    """A queue row: (tbl, op, data) from the mapper, then the commit time (the event time of a
    row with no event-time column) and where it is in the stream (replay is recognised by it)."""
    return (f"{body}\t{commit_time}\t"
            f'{{"source":"logical","lsn":"{lsn}","lseq":{seq}}}\n')
