"""`skene-cdc backfill` (and `migrate --backfill`): import the rows activity tables already had
before capture was installed, so skene.users knows every existing user's last activity on day one
and retention works at once.

- Exactly the row versions written before capture began are imported: `migrate` records the
  snapshot taken as each table's trigger was installed (`capture_start:<table>` in skene.meta),
  and a row whose writer (xmin) is visible in it was never captured. Rows written since went
  through the trigger and are skipped, so live traffic is never doubled, with no lookup into
  skene.events (O(1) per row, however many events a user has).
- Each batch commits together with its position in skene.meta (`backfill:<table>`): an
  interrupted backfill resumes where it stopped, a finished one is not run again. Neither can
  import a row twice.
- Events look exactly like the trigger's inserts (source 'trigger', op 'insert', occurred_at from
  the timestamp column, data = the row), plus external_id 'backfill:<table>:<key>' so that a loop
  can tell history from a change happening now.
- Only activity tables: backfilling the users table would look like a wave of new signups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql as pgsql

from skene_cdc import sql
from skene_cdc.db import Row, connect, require_schema, table_ident
from skene_cdc.errors import SkeneError
from skene_cdc.progress import progress

DEFAULT_BATCH = 5000


@dataclass
class TableResult:
    table_name: str
    scanned: int = 0
    inserted: int = 0
    note: str = ""

    def __str__(self) -> str:
        if self.note:
            return f"{self.table_name}: {self.note}"
        return (f"{self.table_name}: {self.inserted:,} events imported from {self.scanned:,} "
                f"rows ({self.scanned - self.inserted:,} skipped: written since capture began, "
                "or without a user)")


def backfill(url: str, *, tables: list[str] | None = None, batch_size: int = DEFAULT_BATCH,
             interactive: bool | None = None) -> list[TableResult]:
    with connect(url, application_name="skene-cdc backfill") as conn:
        require_schema(conn)
        captured = conn.execute(sql.load("backfill/captured")).fetchall()
        conn.commit()
        known = {r["table_name"] for r in captured}
        unknown = sorted(set(tables or ()) - known)
        if unknown:
            raise SkeneError(f"not a captured activity table: {', '.join(unknown)}",
                             hint="Backfill runs on app.activity tables after `skene-cdc migrate` "
                                  f"installed their capture (captured: {', '.join(sorted(known))})")
        results = []
        for row in captured:
            if tables and row["table_name"] not in tables:
                continue
            results.append(_backfill_table(conn, row, batch_size, interactive))
        return results


def _state(conn: psycopg.Connection[Row], table_name: str) -> dict[str, object]:
    row = conn.execute(sql.load("backfill/get_state"), {"table_name": table_name}).fetchone()
    return dict(json.loads(row["value"])) if row else {}


def _backfill_table(conn: psycopg.Connection[Row], spec: Row, batch_size: int,
                    interactive: bool | None) -> TableResult:
    name = spec["table_name"]
    result = TableResult(name)
    if not spec["timestamp_column"]:
        result.note = ("skipped: no timestamp column in skene.yaml, so existing rows have no "
                       "event time")
        return result
    state = _state(conn, name)
    start = conn.execute(sql.load("backfill/capture_start"), {"table_name": name}).fetchone()
    conn.commit()
    if state.get("done"):
        result.note = (f"already backfilled ({state.get('inserted', 0):,} events, "
                       f"{state.get('finished_at', '?')})")
        return result
    if start is None:
        raise SkeneError(f"{name}: the start of its capture is not recorded",
                         hint="Run `skene-cdc migrate` (it records it), then backfill")
    ident = table_ident(name)
    info = conn.execute(sql.load("backfill/table_info"),
                        {"name": ident.as_string(conn)}).fetchone() or {}
    if info.get("pk"):
        key: pgsql.Composable = pgsql.SQL("t.{}").format(pgsql.Identifier(info["pk"]))
        # format_type() gives a valid type name, quoted where needed.
        key_type: pgsql.Composable = pgsql.SQL(info["pk_type"])
    else:  # no single-column primary key: page on the physical row id
        key, key_type = pgsql.SQL("t.ctid"), pgsql.SQL("tid")
    total = int(info.get("estimate", -1))
    if total < 0:
        total = int((conn.execute(pgsql.SQL("SELECT count(*) AS n FROM {}").format(ident))
                     .fetchone() or {"n": 0})["n"])
    conn.commit()

    def statement(after: bool, queue: str) -> pgsql.Composed:
        cond = (pgsql.SQL("{} > %(after)s::text::{}").format(key, key_type) if after
                else pgsql.SQL("true"))
        return pgsql.SQL(sql.load("backfill/batch")).format(
            key=key, table=ident, after=cond, queue=pgsql.Identifier(queue))

    params = {"table_name": name, "user_col": spec["user_id_column"],
              "ts_col": spec["timestamp_column"], "relid": spec["relid"],
              "column_mode": spec["column_mode"], "column_list": spec["column_list"],
              "limit": batch_size, "capture_start": start["value"]}
    with progress(f"backfill {name}", total=total, unit="rows",
                  interactive=interactive) as bar:
        first = True
        while True:
            with conn.transaction():
                conn.execute(sql.load("backfill/lock"), {"table_name": name})
                # Re-read under the lock: a concurrent backfill of this table may have moved on.
                state = _state(conn, name)
                if state.get("done"):
                    break  # finished by a concurrent backfill
                if first and state.get("scanned"):
                    bar.update(completed=int(str(state["scanned"])), note="resumed")
                first = False
                after = state.get("after")
                conn.execute(sql.load("queue/pin_settings"))
                queue = conn.execute(sql.load("queue/current")).fetchone() or {}
                row = conn.execute(statement(after is not None, queue["table"]),
                                   {**params, "after": after}).fetchone() or {}
                scanned, inserted = int(row.get("scanned", 0)), int(row.get("inserted", 0))
                result.scanned += scanned
                result.inserted += inserted
                done = scanned < batch_size
                state = {"after": row.get("last_key") or after, "done": done,
                         "scanned": int(str(state.get("scanned", 0))) + scanned,
                         "inserted": int(str(state.get("inserted", 0))) + inserted}
                if done:
                    state["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
                conn.execute(sql.load("backfill/set_state"),
                             {"table_name": name, "value": json.dumps(state)})
            bar.advance(scanned)
            if done:
                break
    return result
