"""What people read about loops: the funnel (status section "loops", `loops list`)."""

from __future__ import annotations

from typing import Any

import psycopg

from skene_cdc import sql
from skene_cdc.db import Row


def funnel_rows(conn: psycopg.Connection[Row]) -> list[dict[str, Any]]:
    exists = conn.execute("SELECT to_regclass('skene.loop_funnel') IS NOT NULL AS ok").fetchone()
    if not exists or not exists["ok"]:
        return []
    rows = conn.execute(sql.load("loops/funnel")).fetchall()
    for r in rows:
        if r["conversion_rate"] is not None:
            r["conversion_rate"] = float(r["conversion_rate"])
    return rows
