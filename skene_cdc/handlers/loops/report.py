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
        for key in RATES:
            if r[key] is not None:
                r[key] = float(r[key])
    return rows


RATES = ("conversion_rate", "held_out_rate", "lift", "lift_low", "lift_high")


def holdout_line(r: dict[str, Any]) -> str | None:
    """One sentence on whether the email works, for a loop with a holdout (None otherwise):
    conversion of the emailed against the held out, the lift in points and its 95% interval."""
    if not r.get("held_out") or r.get("lift") is None:
        return None
    low, high = r["lift_low"], r["lift_high"]
    verdict = ("the email works" if low > 0 else "the email does harm" if high < 0
               else "no difference shown yet")
    return (f"{100 * r['conversion_rate']:.1f}% of {r['sent']:,} emailed converted vs "
            f"{100 * r['held_out_rate']:.1f}% of {r['held_out']:,} held out: lift "
            f"{100 * r['lift']:+.1f} pts (95% CI {100 * low:+.1f} to {100 * high:+.1f}): "
            f"{verdict}")
