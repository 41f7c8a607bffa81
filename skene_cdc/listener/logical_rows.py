"""pgoutput changes to skene.events rows, with the same meaning as the trigger `skene.capture()`.

The trigger stores `to_json(NEW)` (OLD for deletes) under pinned settings and takes
user_id/event/occurred_at from the row with `->>`; it marks inserts and updates on activity tables
as activity. Here the same JSON is built from pgoutput's text values, value for value as to_json
renders it (pgjson.py: domains, arrays, composites, timestamps, …), and the result is one line of
COPY text per event, so a batch goes to the server as a single COPY.

An unchanged TOASTed column (`u`) that the old row image cannot fill in (REPLICA IDENTITY FULL
sends the whole old row) is left out of `data` and named in `data["_unchanged_toast"]`: never NULL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import encode_basestring as _json_str
from typing import Any, Final

from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.pgjson import Conv, Renderer, iso_timestamp, parse_types

__all__ = ["COPY_COLUMNS", "UNCHANGED_KEY", "RelationMapper", "Rendered", "TableSpec",
           "copy_escape", "copy_line", "iso_timestamp"]

log = logging.getLogger("skene.logical")

UNCHANGED_KEY: Final = "_unchanged_toast"
COPY_COLUMNS: Final = ("source, table_name, op, user_id, event, activity, data, occurred_at, lsn, "
                       "seq")

NULL: Final = "\\N"  # COPY text's NULL


@dataclass(frozen=True)
class TableSpec:
    """One row of skene.captured_tables: how a logically captured table maps to events."""

    table_name: str
    role: str
    user_id_column: str
    timestamp_column: str | None
    event_column: str | None
    # What the catalog says about the types the table's columns reach (captured_tables.sql).
    types: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def activity(self) -> bool:
        return self.role == "activity"

    @cached_property
    def renderer(self) -> Renderer:
        return Renderer(parse_types(self.types))


def copy_escape(s: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return must be escaped."""
    if "\\" in s:
        s = s.replace("\\", "\\\\")
    if "\n" in s or "\t" in s or "\r" in s:
        s = s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return s


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
        renderer = spec.renderer
        names = [c.name for c in rel.columns]
        self.keys = [_json_str(n) + ":" for n in names]
        self.convs = [renderer.fragment(c.type_oid) for c in rel.columns]
        self.key_cols = [i for i, c in enumerate(rel.columns) if c.key]
        # Types the catalog snapshot does not describe (created after the specs were loaded):
        # rendered as JSON strings until the listener reads the catalog again.
        self.missing = frozenset(c.type_oid for c in rel.columns if not renderer.known(c.type_oid))
        if self.missing:
            log.warning("logical: %s has columns of types skene has not read from the catalog "
                        "(OIDs %s); their values are captured as JSON strings until the listener "
                        "restarts", rel.qualified, ", ".join(map(str, sorted(self.missing))))

        def find(col: str | None, how: Callable[[int], Conv]) -> tuple[int, Conv] | None:
            if col is None or col not in names:
                return None
            i = names.index(col)
            return i, how(rel.columns[i].type_oid)

        self.user = find(spec.user_id_column, renderer.as_text)
        self.ts = find(spec.timestamp_column, renderer.event_time)
        self.event = find(spec.event_column, renderer.as_text)
        table = copy_escape(spec.table_name)
        self.prefix = {op: f"{table}\t{op}\t" for op in ("insert", "update", "delete")}
        self.default_event = {op: copy_escape(f"{rel.name}.{op}")
                              for op in ("insert", "update", "delete", "truncate")}
        self.truncate_body = f"{table}\ttruncate\t\\N\t{self.default_event['truncate']}\tf\t\\N"

    def row_json(self, values: list[po.Value], only: list[int] | None = None) -> str:
        """The row as to_json(row) gives it (`only`: just those columns)."""
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
        return "{" + ",".join(parts) + "}"

    def render(self, op: str, values: list[po.Value], only: list[int] | None = None) -> Rendered:
        data = copy_escape(self.row_json(values, only))
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
