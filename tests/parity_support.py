"""The machinery behind tests/test_parity.py: one table per column type, every case written the
same way into three databases (trigger capture, logical capture with replica identity full and
minimal), the logical listener drained, and what each produced collected next to the oracle:
`to_json(row)` under the pinned settings, computed in a separate session.

A fourth view is the decoder alone: a second pgoutput slot in the full-identity database, read
with the SQL decoding functions in a session with the walsender's settings, decoded and rendered
by the listener's own code. It sees every case, including values `skene.events` cannot hold.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from skene_cdc import sql
from skene_cdc.config import Config
from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.logical_rows import RelationMapper, TableSpec
from skene_cdc.listener.pgjson import pinned_options
from skene_cdc.listener.replication import LogicalCapture
from skene_cdc.migrations import runner
from tests.conftest import DEFAULT_CONFIG, clone, consume, write_config
from tests.logical_util import logical_config
from tests.pgcluster import PgCluster

TableKey = tuple[str, bool, bool]  # type, event time, poison: one table each


@dataclass(frozen=True)
class Case:
    """One row of the parity table: a value of a column type, written in a session with
    `settings` (what the writer's session had; must not matter)."""

    id: str
    type: str
    value: str
    settings: tuple[tuple[str, str], ...] = ()
    ddl: str = ""  # creates what `type` needs; run once, in order of first appearance
    event_time: bool = False  # the column is the table's configured event time (`timestamp:`)
    leak: bool = False  # a writer setting the trigger pins (failed before it pinned them)
    poison: bool = False  # skene.events cannot hold it yet (issue 15 §1-2): decoder only
    generated: bool = False  # a generated column: pgoutput on PostgreSQL 15 does not send it
    own_cast: bool = False  # a type with its own cast to json, which only to_json can call

    @property
    def table_key(self) -> TableKey:
        return self.type, self.event_time, self.poison


def case(id: str, type: str, value: str, settings: dict[str, str] | None = None,
         **flags: Any) -> Case:
    return Case(id, type, value, tuple((settings or {}).items()), **flags)


@dataclass
class Event:
    user_id: str | None
    event: str
    activity: bool
    data: str  # jsonb text
    occurred_at: str  # in UTC
    notes: str | None = None  # what capture could not keep as it was (jsonb text)


@dataclass
class Results:
    tables: dict[TableKey, str]
    oracle_json: dict[str, str] = field(default_factory=dict)  # to_json(row)::text
    oracle_jsonb: dict[str, str] = field(default_factory=dict)  # to_json(row)::jsonb::text
    oracle_time: dict[str, str] = field(default_factory=dict)  # event time, as timestamptz text
    decoded: dict[tuple[str, str], str] = field(default_factory=dict)  # (id, op) -> JSON text
    raw: dict[str, tuple[int, po.Value]] = field(default_factory=dict)  # pgoutput's type and text
    types: dict[str, Any] = field(default_factory=dict)  # the catalog, as captured_tables gives it
    events: dict[str, dict[tuple[str, str], Event]] = field(default_factory=dict)  # mode -> …
    txn_time: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # now(), after
    toast: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # mode -> (op, data)


MODES = ("trigger", "full", "minimal")
BIG = "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g)"
UTC = "SET TimeZone = 'UTC'"
# A time as ISO text whatever the session's DateStyle and TimeZone: now() or clock_timestamp().
NOW = ("SELECT to_char(CASE WHEN %s = 'now' THEN now() ELSE clock_timestamp() END "
       "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')")


def table_names(cases: Iterable[Case]) -> dict[TableKey, str]:
    names: dict[TableKey, str] = {}
    for c in cases:
        names.setdefault(c.table_key, f"p{len(names) + 1}")
    return names


def schema_sql(cases: list[Case], tables: dict[TableKey, str]) -> str:
    ddl = list(dict.fromkeys(c.ddl for c in cases if c.ddl))
    # Poison tables are not captured (no migrate): FULL by hand, so deletes carry the whole row.
    creates = [f"CREATE TABLE {name} (id int PRIMARY KEY, user_id int NOT NULL, v {typ})"
               + (f"; ALTER TABLE {name} REPLICA IDENTITY FULL" if poison else "")
               for (typ, _, poison), name in tables.items()]
    return ";\n".join(ddl + creates)


def activity_yaml(cases: list[Case], tables: dict[TableKey, str]) -> str:
    out = []
    for (_, event_time, poison), name in tables.items():
        if not poison:
            out.append(f"    - table: public.{name}\n      user_id: user_id\n"
                       + ("      timestamp: v\n" if event_time else ""))
    # History keeps every day: the table's event times span centuries (a top-level key, after
    # the activity list).
    return "".join(out) + "events: {retention: forever}\n"


def run(pg: PgCluster, template: str, cases: list[Case], tmp: Path) -> tuple[Results, list[str]]:
    """Everything the parity tests look at, in one pass. Returns the databases made (to drop)."""
    tables = table_names(cases)
    res = Results(tables)
    dbs = {mode: clone(pg, template) for mode in MODES}
    urls = {mode: pg.url(name) for mode, name in dbs.items()}
    schema = schema_sql(cases, tables)
    activity = activity_yaml(cases, tables)
    configs: dict[str, Config] = {}
    for mode, url in urls.items():
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(schema)
            if mode != "trigger":
                # The listener's own sessions (and the app's, by default) in another zone: what
                # the decoder writes, event times included, must not depend on it.
                conn.execute(f'ALTER DATABASE "{dbs[mode]}" SET TimeZone = \'America/New_York\'')
        (tmp / mode).mkdir()
        text = (DEFAULT_CONFIG.replace("capture:\n", activity + "capture:\n", 1)
                if mode == "trigger" else logical_config(
                    f"s_{dbs[mode]}", "\n  replica_identity: minimal" if mode == "minimal" else "",
                    activity))
        configs[mode] = write_config(tmp / mode, text)
        runner.migrate(url, configs[mode])
    peek_slot = f"peek_{dbs['full']}"
    with psycopg.connect(urls["full"], autocommit=True) as conn:
        conn.execute("CREATE PUBLICATION parity_peek FOR TABLE " + ", ".join(tables.values()))
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (peek_slot,))
    for mode, url in urls.items():
        res.txn_time[mode] = write(url, cases, tables)
    oracle(urls["full"], cases, tables, res)
    for mode, url in urls.items():
        finish(url, cases, tables, res, mode)
    for mode in ("full", "minimal"):
        LogicalCapture(urls[mode], configs[mode]).drain()
    for mode, url in urls.items():
        consume(url, configs[mode])
    decode(urls["full"], peek_slot, cases, tables, res)
    ids = {i: c.id for i, c in enumerate(cases, 1)}
    for mode, url in urls.items():
        res.events[mode] = collect(url, ids)
        res.toast[mode] = collect_toast(url)
    return res, list(dbs.values())


def write(url: str, cases: list[Case], tables: dict[TableKey, str]
          ) -> dict[str, tuple[str, str]]:
    """One transaction per distinct writer setting; returns each case's transaction time and a
    time taken right after its commit."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[int, Case]]] = defaultdict(list)
    for i, c in enumerate(cases, 1):
        groups[c.settings].append((i, c))
    times: dict[str, tuple[str, str]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")  # decoding reads flushed WAL only
        for settings, members in groups.items():
            with conn.transaction():
                for name, value in settings:
                    conn.execute("SELECT set_config(%s, %s, true)", (name, value))
                for i, c in members:
                    conn.execute(f"INSERT INTO public.{tables[c.table_key]} (id, user_id, v) "  # noqa: S608
                                 f"VALUES ({i}, {i}, {c.value})".encode())
                start = conn.execute(NOW, ("now",)).fetchone()
            after = conn.execute(NOW, ("clock",)).fetchone()
            assert start is not None and after is not None
            for _, c in members:
                times[c.id] = (str(start[0]), str(after[0]))
    return times


def pinned(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A session with exactly the walsender's settings (the same options string)."""
    return psycopg.connect(url, autocommit=True, options=pinned_options())


def oracle(url: str, cases: list[Case], tables: dict[TableKey, str], res: Results) -> None:
    with pinned(url) as conn:
        for i, c in enumerate(cases, 1):
            t = tables[c.table_key]
            row = conn.execute(f"SELECT to_json(t)::text FROM public.{t} t "  # noqa: S608
                               f"WHERE id = {i}").fetchone()
            assert row is not None
            res.oracle_json[c.id] = row[0]
            if not c.poison:
                jb = conn.execute("SELECT %s::jsonb::text", (row[0],)).fetchone()
                assert jb is not None
                res.oracle_jsonb[c.id] = jb[0]
            if c.event_time:
                tm = conn.execute("SELECT (%s::json ->> 'v')::timestamptz::text",
                                  (row[0],)).fetchone()
                assert tm is not None
                res.oracle_time[c.id] = tm[0]


def finish(url: str, cases: list[Case], tables: dict[TableKey, str], res: Results,
           mode: str) -> None:
    """Delete every row (deletes carry the old row), and the TOAST exception on `users`: an
    update that leaves a large value alone, then a delete."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")
        with conn.transaction():
            for name in tables.values():
                conn.execute(f"DELETE FROM {name}")  # noqa: S608
        conn.execute(f"INSERT INTO users (id, email, name, created_at) VALUES (1, 'a@x.test', {BIG}, "
                     "'2026-01-01 00:00:00+00')")
        conn.execute("UPDATE users SET email = 'new@x.test' WHERE id = 1")
        conn.execute("DELETE FROM users WHERE id = 1")


def decode(url: str, slot: str, cases: list[Case], tables: dict[TableKey, str],
           res: Results) -> None:
    by_table = {f"public.{name}": key for key, name in tables.items()}
    ids = {i: c for i, c in enumerate(cases, 1)}
    with pinned(url) as conn:
        captured = conn.execute(sql.load("logical/captured_tables")).fetchall()
        types = captured[0][-1] if captured else {}
        res.types = types
        rows = conn.execute(
            "SELECT data FROM pg_logical_slot_peek_binary_changes(%s, NULL, NULL, "
            "'proto_version', '1', 'publication_names', 'parity_peek')", (slot,)).fetchall()
    decoder = po.Decoder()
    mappers: dict[int, RelationMapper] = {}
    for (data,) in rows:
        msg = decoder.decode(bytes(data))
        if isinstance(msg, po.Relation):
            key = by_table[msg.qualified]
            mappers[msg.oid] = RelationMapper(msg, TableSpec(
                msg.qualified, "activity", "user_id", "v" if key[1] else None, None,
                types=types))
        elif isinstance(msg, po.Insert | po.Delete):
            mapper = mappers[msg.relation.oid]
            values = msg.new if isinstance(msg, po.Insert) else msg.old
            op = "insert" if isinstance(msg, po.Insert) else "delete"
            row = json.loads(mapper.row_json(values))
            c = ids[row["id"]]
            res.decoded[c.id, op] = mapper.row_json(values)
            if op == "insert":
                if len(values) > 2:  # a generated column is not sent
                    res.raw[c.id] = msg.relation.columns[2].type_oid, values[2]


def collect(url: str, ids: dict[int, str]) -> dict[tuple[str, str], Event]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(UTC)
        rows = conn.execute(
            "SELECT (data ->> 'id')::int, op, user_id, event, activity, data::text, "
            "occurred_at::text, notes::text FROM skene.events "
            "WHERE table_name ~ '^public\\.p[0-9]+$'").fetchall()
    return {(ids[r[0]], r[1]): Event(r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows}


def collect_toast(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT op, data::text FROM skene.events WHERE table_name = "
                            "'public.users' ORDER BY id").fetchall()
    return [(r[0], r[1]) for r in rows]


def expected_logical(c: Case, res: Results) -> dict[str, Any]:
    """The oracle's row as the logical modes must give it, documented differences applied."""
    want: dict[str, Any] = json.loads(res.oracle_jsonb[c.id])
    if c.generated:
        del want["v"]
    if c.own_cast:
        oid, text = res.raw[c.id]
        want["v"] = text
    return want


def without(jsonb_text: str, key: str) -> dict[str, Any]:
    d = json.loads(jsonb_text)
    assert key in d
    del d[key]
    return d  # type: ignore[no-any-return]


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def calendar_time(text: str) -> bool:
    """A time an event can be said to happen at (skene.event_time): not BC, not infinite, a
    4-digit year."""
    return text[:1].isdigit() and len(text.split("-", 1)[0]) == 4 and not text.endswith(" BC") \
        and not text.startswith("0000")
