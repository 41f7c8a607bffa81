"""pgoutput changes to capture-queue rows, with the same meaning as the trigger `skene.capture()`.

The trigger queues `to_json(NEW)` (OLD for deletes) of the columns skene.yaml keeps, under pinned
settings; the consumer then reads user, event and time from it by the table's registration, for
both modes alike. Here the same JSON is built from pgoutput's text values, value for value as
to_json renders it (pgjson.py: domains, arrays, composites, timestamps, …), and the result is one
line of COPY text per change, so a batch goes to the server as a single COPY.

An unchanged TOASTed column (`u`) that the old row image cannot fill in (REPLICA IDENTITY FULL
sends the whole old row) is left out of `data` and named in `data["_unchanged_toast"]`: never NULL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import encode_basestring as _json_str
from typing import Any, Final

from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.pgjson import Renderer, iso_timestamp, parse_types

__all__ = ["COPY_COLUMNS", "UNCHANGED_KEY", "RelationMapper", "Rendered", "TableSpec",
           "copy_escape", "copy_line", "iso_timestamp"]

log = logging.getLogger("skene.logical")

UNCHANGED_KEY: Final = "_unchanged_toast"
COPY_COLUMNS: Final = "tbl, op, data, at, meta"

NULL: Final = "\\N"  # COPY text's NULL


@dataclass(frozen=True)
class TableSpec:
    """One row of skene.captured_tables: a logically captured table and the columns it keeps."""

    table_name: str
    role: str
    user_id_column: str
    timestamp_column: str | None
    event_column: str | None
    column_mode: str = "all"
    column_list: tuple[str, ...] | list[str] = ()
    capture_unchanged: bool = False
    # What the catalog says about the types the table's columns reach (captured_tables.sql).
    types: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def activity(self) -> bool:
        return self.role == "activity"

    def keeps(self, column: str) -> bool:
        if self.column_mode == "include":
            return column in self.column_list
        if self.column_mode == "exclude":
            return column not in self.column_list
        return True

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
    """One change without its transaction's commit position: `body` is the queue row's (tbl, op,
    data) as COPY text; `occurred_at` is unused (the consumer reads event times from data)."""

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
        # The columns that leave the table (skene.yaml's include/exclude, as for the trigger).
        self.kept = [i for i, n in enumerate(names) if spec.keeps(n)]
        self.all_kept = len(self.kept) == len(names)
        # Types the catalog snapshot does not describe (created after the specs were loaded):
        # rendered as JSON strings until the listener reads the catalog again.
        self.missing = frozenset(c.type_oid for c in rel.columns if not renderer.known(c.type_oid))
        if self.missing:
            log.warning("logical: %s has columns of types skene has not read from the catalog "
                        "(OIDs %s); their values are captured as JSON strings until the listener "
                        "restarts", rel.qualified, ", ".join(map(str, sorted(self.missing))))
        self.prefix = {op: f"{rel.oid}\t{op}\t" for op in ("insert", "update", "delete")}
        self.truncate_body = f"{rel.oid}\ttruncate\t{NULL}"

    def row_json(self, values: list[po.Value], only: list[int] | None = None) -> str:
        """The row as to_json(row) gives it, of the kept columns (`only`: just those)."""
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
        return "{" + ",".join(parts) + "}"

    def render(self, op: str, values: list[po.Value], only: list[int] | None = None) -> Rendered:
        return Rendered(self.prefix[op] + copy_escape(self.row_json(values, only)), None)

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
