"""Holdouts that prove lift, issue 14 section 4: a retention loop holds out 10% of the users it
decides on (sticky per user and loop), follows them for the goal without emailing them, and the
funnel compares the two groups with the lift and its 95% confidence interval. Measured on 10,000
users and on a seeded simulation whose true effect is known."""

from __future__ import annotations

import math
import random
from pathlib import Path

import psycopg
import pytest

from skene_cdc import status as status_mod
from skene_cdc.db import connect
from skene_cdc.handlers.loops.audience import held_out
from skene_cdc.report.data import collect as report_data
from skene_cdc.report.render import render as render_report
from tests.conftest import DEFAULT_CONFIG, consume, run_cli
from tests.loops_support import RETENTION, enrolments, loops_config, rows, run_loop

USERS = 10_000
SHARE, TOLERANCE = 0.10, 0.01  # held out: 10% +- 1 point (about 3.3 binomial SDs at 10,000)
BASE_RATE, EMAIL_RATE = 0.20, 0.30  # came back within the goal window: without / with the email
HOLDOUT = RETENTION.replace("    recovery:", "    holdout: 10%\n    recovery:")


def test_holdout_assignment_is_sticky_and_apart_from_variants(tmp_path: Path) -> None:
    config = loops_config(tmp_path, HOLDOUT)
    loop = config.loops[0]
    ids = [str(i) for i in range(USERS)]
    first = [held_out(loop, u) for u in ids]
    assert first == [held_out(loop, u) for u in ids]
    assert abs(sum(first) / USERS - SHARE) <= TOLERANCE
    # Another loop holds out other users: membership is per (loop, user).
    other = loop.model_copy(update={"name": "retention2"})
    overlap = sum(a and held_out(other, u) for a, u in zip(first, ids, strict=True))
    assert overlap < sum(first) * 0.2


def test_holdout_config_is_refused_where_it_cannot_measure_anything(db_url: str,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "skene.yaml"
    path.write_text(DEFAULT_CONFIG + "loops:" + HOLDOUT.replace("type: retention",
                                                                "type: activation"))
    proc = run_cli("listen", "--once", url=db_url, config_path=path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "skene.yaml:16: loops[0]: Value error, holdout needs a goal that comes after the " \
           "email, which only retention loops have" in proc.stderr


@pytest.mark.slow
def test_lift_on_a_seeded_simulation_with_a_known_effect(db_url: str, tmp_path: Path) -> None:
    config = loops_config(tmp_path, HOLDOUT)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) SELECT g, 'u' || g || '@x.test', "
                     "'U' || g FROM generate_series(1, %s) g", (USERS,))
        conn.execute("INSERT INTO user_actions (user_id, action_type, created_at) SELECT g, "
                     "'export', now() - interval '8 days' FROM generate_series(1, %s) g",
                     (USERS,))
    consume(db_url, config)
    run_loop(db_url, config, "retention")

    enrolled = enrolments(db_url, "retention")
    assert len(enrolled) == USERS
    group = {u: e["holdout"] for u, e in enrolled.items()}
    held = [u for u, h in group.items() if h]
    assert abs(len(held) / USERS - SHARE) <= TOLERANCE
    assert all(enrolled[u]["state"] == "held_out" and enrolled[u]["sent_at"] is None
               and enrolled[u]["met_at"] is not None for u in held)
    deliveries = {r["user_id"] for r in rows(db_url, "SELECT user_id FROM skene.deliveries")}
    assert deliveries == {u for u, h in group.items() if not h}, "held-out users get no email"

    # The world: each user comes back with a probability that depends only on their group.
    rng = random.Random(14)
    back = [u for u in sorted(group, key=int)
            if rng.random() < (BASE_RATE if group[u] else EMAIL_RATE)]
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO user_actions (user_id, action_type) "
                     "SELECT unnest(%s::bigint[]), 'login'", ([int(u) for u in back],))
    consume(db_url, config)

    [f] = rows(db_url, "SELECT * FROM skene.loop_funnel WHERE loop = 'retention'")
    n1, n0 = USERS - len(held), len(held)
    c1 = sum(1 for u in back if not group[u])
    c0 = sum(1 for u in back if group[u])
    assert (f["sent"], f["converted"], f["held_out"], f["held_out_converted"]) == (n1, c1, n0, c0)
    p1, p0 = c1 / n1, c0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    assert float(f["lift"]) == pytest.approx(p1 - p0, abs=1e-4)
    assert float(f["lift_low"]) == pytest.approx(p1 - p0 - 1.959964 * se, abs=1e-4)
    assert float(f["lift_high"]) == pytest.approx(p1 - p0 + 1.959964 * se, abs=1e-4)
    true_lift = EMAIL_RATE - BASE_RATE
    assert float(f["lift_low"]) < true_lift < float(f["lift_high"])
    assert float(f["lift_low"]) > 0, "an effect of 10 points on 1,000 held-out users shows"

    # status --json and the report say the same.
    with connect(db_url, autocommit=True) as conn:
        loops = status_mod.collect(conn)["loops"]
        html = render_report(report_data(conn))
    [mine] = [r for r in loops if r["loop"] == "retention" and r["variant"] == "(all)"]
    assert (mine["held_out"], mine["lift"]) == (n0, float(f["lift"]))
    shown = (f"vs {100 * float(f['held_out_rate']):.1f}% of {n0:,} held out: lift "
             f"{100 * float(f['lift']):+.1f} pts (95% CI {100 * float(f['lift_low']):+.1f} to "
             f"{100 * float(f['lift_high']):+.1f}): the email works")
    assert shown in html and 'data-group="held_out"' in html
    screen = run_cli("status", url=db_url, config_path=tmp_path / "skene.yaml").stdout
    assert shown in " ".join(screen.split())
