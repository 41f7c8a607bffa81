"""The pgoutput decoder, on bytes the real server produced (SQL decoding functions, same output
plugin and format as the walsender), for every message kind."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from skene_cdc.listener import pgoutput as po
from skene_cdc.listener.logical_rows import iso_timestamp

Conn = psycopg.Connection[tuple[object, ...]]

# Text values to Python by type OID, to read decoded rows here (the listener itself renders text
# straight to JSON, listener/pgjson.py, and never builds Python values).
_TEXT: dict[int, Callable[[str], Any]] = {
    16: lambda v: v == "t", 20: int, 21: int, 23: int, 700: float, 701: float, 1700: Decimal,
    114: json.loads, 3802: json.loads, 2950: UUID, 1082: date.fromisoformat,
    1114: datetime.fromisoformat, 1184: datetime.fromisoformat,
}


def to_python(relation: po.Relation, values: list[po.Value]) -> dict[str, Any]:
    return {col.name: _TEXT.get(col.type_oid, str)(v) if isinstance(v, str) else v
            for col, v in zip(relation.columns, values, strict=True)}


@pytest.fixture
def conn(app_url: str) -> Iterator[Conn]:
    with psycopg.connect(app_url, autocommit=True) as c:
        c.execute("SET synchronous_commit = on")  # decoding reads only flushed WAL
        c.execute("SET timezone = 'UTC'")
        yield c


def changes(conn: Conn, slot: str, *opts: str) -> list[bytes]:
    args = ", ".join(f"'{o}'" for o in opts)
    rows = conn.execute(f"SELECT data FROM pg_logical_slot_get_binary_changes('{slot}', NULL, NULL, "
                        f"{args})").fetchall()
    return [bytes(r[0]) for r in rows]  # type: ignore[arg-type]


def setup_slot(conn: Conn, slot: str) -> None:
    conn.execute("CREATE PUBLICATION p FOR ALL TABLES")
    conn.execute(f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")


def test_protocol_1_every_kind_and_typed_values(conn: Conn) -> None:
    conn.execute("CREATE TYPE mood AS ENUM ('ok', 'meh')")
    conn.execute("""CREATE TABLE t (id int PRIMARY KEY, b bool, i8 bigint, n numeric, f float8,
                    s text, v varchar(5), j jsonb, js json, ts timestamp, tz timestamptz, d date,
                    u uuid, m mood, big text)""")
    slot = "d1"
    setup_slot(conn, slot)
    conn.execute("SELECT pg_replication_origin_create('upstream')")
    conn.execute("SELECT pg_replication_origin_session_setup('upstream')")
    with conn.transaction():
        conn.execute("SELECT pg_replication_origin_xact_setup('0/AB', now())")
        conn.execute("""INSERT INTO t VALUES (1, true, 9007199254740993, 1.50, 'NaN', 'tab\there',
                        'abc', '{"k": [1, 2]}', '{"a":\n 1}', '2024-05-06 07:08:09.5',
                        '2024-05-06 07:08:09+02', '2024-05-06', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                        'meh', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g))""")
    conn.execute("SELECT pg_replication_origin_session_reset()")
    conn.execute("SELECT pg_logical_emit_message(true, 'app', 'in txn')")
    conn.execute("SELECT pg_logical_emit_message(false, 'app', 'outside')")
    conn.execute("UPDATE t SET b = false WHERE id = 1")  # big is TOASTed and unchanged
    conn.execute("ALTER TABLE t ADD COLUMN extra int DEFAULT 7")
    conn.execute("DELETE FROM t WHERE id = 1")
    conn.execute("TRUNCATE t")
    msgs = changes(conn, slot, "proto_version", "1", "publication_names", "p", "messages", "true")
    dec = po.Decoder()
    out = [dec.decode(m) for m in msgs]
    kinds = [type(m).__name__ for m in out]
    assert kinds[:6] == ["Begin", "Origin", "TypeInfo", "Relation", "Insert", "Commit"]
    assert "Message" in kinds and "Update" in kinds and "Delete" in kinds and "Truncate" in kinds
    origin = next(m for m in out if isinstance(m, po.Origin))
    assert origin.name == "upstream" and origin.lsn == 0xAB
    assert next(m for m in out if isinstance(m, po.TypeInfo)).name == "mood"

    ins = next(m for m in out if isinstance(m, po.Insert))
    row = to_python(ins.relation, ins.new)
    assert row["b"] is True and row["i8"] == 9007199254740993 and row["n"] == Decimal("1.50")
    assert row["f"] != row["f"]  # NaN
    assert row["s"] == "tab\there" and row["j"] == {"k": [1, 2]} and row["js"] == {"a": 1}
    assert row["ts"] == datetime(2024, 5, 6, 7, 8, 9, 500000)
    assert row["tz"].isoformat() == "2024-05-06T05:08:09+00:00"
    assert row["d"] == date(2024, 5, 6) and isinstance(row["u"], UUID) and row["m"] == "meh"
    assert len(row["big"]) == 12800

    upd = next(m for m in out if isinstance(m, po.Update))
    assert upd.old is None  # default replica identity, key unchanged: no old row sent
    assert upd.new[upd.relation.columns.index(
        next(c for c in upd.relation.columns if c.name == "big"))] is po.UNCHANGED
    msgs_ = [m for m in out if isinstance(m, po.Message)]
    assert [(m.transactional, m.prefix, m.content) for m in msgs_] == [
        (True, "app", b"in txn"), (False, "app", b"outside")]

    # ALTER TABLE mid-stream: a new Relation message replaces the cached one.
    dele = next(m for m in out if isinstance(m, po.Delete))
    assert [c.name for c in dele.relation.columns][-1] == "extra"
    assert dele.old_kind == "K" and to_python(dele.relation, dele.old)["id"] == 1
    assert "extra" not in [c.name for c in ins.relation.columns]
    assert dec.relations[dele.relation.oid].columns == dele.relation.columns
    trunc = next(m for m in out if isinstance(m, po.Truncate))
    assert [r.name for r in trunc.relations] == ["t"]

    # The JSON the row mapper derives from text values matches to_jsonb's shapes.
    jsonb = conn.execute("SELECT to_jsonb('2024-05-06 07:08:09+02'::timestamptz), "
                         "to_jsonb('2024-05-06 07:08:09.5'::timestamp)").fetchone()
    assert jsonb == (iso_timestamp(ins.new[10]), iso_timestamp(ins.new[9]))  # type: ignore[arg-type]


def test_protocol_2_streamed_transactions(conn: Conn) -> None:
    conn.execute("CREATE TABLE s (id int PRIMARY KEY, pad text)")
    setup_slot(conn, "d2")
    conn.execute("SET logical_decoding_work_mem = '64kB'")
    with conn.transaction():  # big enough to be streamed before it commits
        conn.execute("INSERT INTO s SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g")
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute("INSERT INTO s SELECT g, 'sub' FROM generate_series(5001, 8000) g")
            conn.execute("INSERT INTO s VALUES (1, 'dup')")
    with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
        conn.execute("INSERT INTO s SELECT g, repeat('y', 100) FROM generate_series(9001, 12000) g")
        conn.execute("SELECT 1 / 0")
    msgs = changes(conn, "d2", "proto_version", "2", "publication_names", "p", "streaming", "on")
    dec = po.Decoder()
    out = [dec.decode(m) for m in msgs]
    kinds = {type(m).__name__ for m in out}
    assert {"StreamStart", "StreamStop", "StreamCommit", "StreamAbort"} <= kinds
    inserts = [m for m in out if isinstance(m, po.Insert)]
    assert all(m.xid is not None for m in inserts)  # streamed changes carry their xid
    top = next(m for m in out if isinstance(m, po.StreamCommit)).xid
    assert any(m.xid != top for m in inserts), "the subtransaction's changes carry its own xid"
    aborts = [m for m in out if isinstance(m, po.StreamAbort)]
    assert any(a.subxid != a.xid for a in aborts), "a subtransaction abort"
    assert not dec.in_stream


def test_malformed_input_is_a_clear_error() -> None:
    dec = po.Decoder()
    with pytest.raises(po.DecodeError, match="unknown pgoutput message type"):
        dec.decode(b"Z")
    with pytest.raises(po.DecodeError, match="before its Relation"):
        dec.decode(b"I\x00\x00\x00\x05N\x00\x00")
    with pytest.raises(po.DecodeError, match="malformed"):
        dec.decode(b"B\x00")
    assert json.dumps(str(po.UNCHANGED)) == '"UNCHANGED"' and not po.UNCHANGED
