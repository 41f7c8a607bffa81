"""`skene-cdc report`: a self-contained HTML page, checked in a real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import psycopg
import pytest

from skene_cdc.report import charts
from tests.browser import INSTALL_HINT, Browser, find_chromium
from tests.conftest import DEFAULT_CONFIG, run_cli, write_config

# Funnels as the loop engine records them, spread over the last two weeks: activation (one
# template) and retention with two variants converting differently.
SEED_SQL = """
INSERT INTO skene.loops (name, type) VALUES ('activation', 'activation'),
                                            ('retention', 'retention');
INSERT INTO skene.enrolments (loop, user_id, episode, state, variant, enrolled_at, met_at,
                              sent_at, converted_at)
SELECT 'activation', g::text, 'once',
       CASE WHEN g % 3 = 0 THEN 'converted' ELSE 'enrolled' END, NULL,
       now() - (g % 14) * interval '1 day',
       CASE WHEN g % 3 = 0 THEN now() - (g % 14) * interval '1 day' + interval '2 hours' END,
       CASE WHEN g % 3 = 0 THEN now() - (g % 14) * interval '1 day' + interval '2 hours' END,
       CASE WHEN g % 3 = 0 THEN now() - (g % 14) * interval '1 day' + interval '2 hours' END
FROM generate_series(1, 42) g;
INSERT INTO skene.enrolments (loop, user_id, episode, state, variant, enrolled_at, sent_at,
                              converted_at)
SELECT 'retention', g::text, 'spell-1',
       CASE WHEN (g % 2 = 0 AND g % 4 <> 2) OR g % 10 = 1 THEN 'converted' ELSE 'sent' END,
       CASE WHEN g % 2 = 0 THEN 're_engagement' ELSE 're_engagement_short' END,
       now() - (g % 7) * interval '1 day', now() - (g % 7) * interval '1 day',
       CASE WHEN (g % 2 = 0 AND g % 4 <> 2) OR g % 10 = 1
            THEN now() - (g % 7) * interval '1 day' + interval '1 day' END
FROM generate_series(1, 40) g
WHERE (g % 7) > 0;
INSERT INTO skene.deliveries (loop, user_id, step, episode, provider, template, variant,
                              idempotency_key, state, attempts, last_error)
VALUES ('retention', '2', 0, 'spell-1', 'resend', 're_engagement', 're_engagement', 'k1', 'dead',
        4, 'provider answered 500');
"""


@pytest.fixture
def report_db(db_url: str, tmp_path: Path) -> str:
    write_config(tmp_path, DEFAULT_CONFIG)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, email, name) SELECT g, 'u' || g || '@x.test', "
                     "'User ' || g FROM generate_series(1, 42) g")
        conn.execute("INSERT INTO user_actions (user_id, action_type) "
                     "SELECT 1 + g % 42, 'project_created' FROM generate_series(1, 100) g")
    run_cli("listen", "--once", url=db_url, config_path=tmp_path / "skene.yaml")
    with psycopg.connect(db_url) as conn:
        conn.execute(SEED_SQL)
    return db_url


def expected_funnels(url: str) -> dict[str, dict[str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT loop, count(*), count(sent_at), count(converted_at) "
                            "FROM skene.enrolments GROUP BY loop").fetchall()
    return {r[0]: {"enrolled": r[1], "sent": r[2], "converted": r[3]} for r in rows}


def expected_variants(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT variant, round(100.0 * count(converted_at) / count(sent_at), 1)"
                            " FROM skene.enrolments WHERE loop = 'retention' GROUP BY variant"
                            ).fetchall()
    return {r[0]: f"{r[1]}% of sent" for r in rows}


# What the page shows, read from the rendered DOM (not from the HTML source).
PAGE_FACTS = """(() => {
  const loops = {};
  for (const s of document.querySelectorAll('section.loop')) {
    const cell = st => Number(s.querySelector(`table.funnel td[data-stage="${st}"]`).textContent);
    const daily = s.querySelector('svg.chart.funnel-daily');
    const box = daily.getBoundingClientRect();
    loops[s.dataset.loop] = {
      enrolled: cell('enrolled'), sent: cell('sent'), converted: cell('converted'),
      series: [...daily.querySelectorAll('path.series')].map(p => p.dataset.series),
      points: daily.querySelectorAll('circle').length,
      funnelBars: s.querySelectorAll('svg.funnel-total rect.bar').length,
      variants: Object.fromEntries([...s.querySelectorAll('table.variants tr[data-variant]')]
        .map(tr => [tr.dataset.variant, tr.lastElementChild.textContent.trim()])),
      variantBars: s.querySelectorAll('svg.variants rect.bar').length,
      visible: box.width > 300 && box.height > 100,
    };
  }
  return JSON.stringify({
    title: document.title,
    loops,
    hourlyBars: document.querySelectorAll('svg.events-hourly rect.bar').length,
    lagChart: !!document.querySelector('svg.lag-hourly path.series'),
    cards: document.querySelectorAll('#totals .card').length,
    scripts: document.scripts.length,
  });
})()"""


def test_report_renders_in_chromium_with_the_funnels(report_db: str, tmp_path: Path) -> None:
    pytest.importorskip("websocket", reason="pip install websocket-client (in the test extra)")
    exe = find_chromium()
    if exe is None:
        pytest.skip(INSTALL_HINT)
    out = tmp_path / "out" / "report.html"
    proc = run_cli("report", "--output", str(out), "--days", "14", "--hours", "24",
                   url=report_db, config_path=tmp_path / "skene.yaml")
    assert f"wrote {out} (2 loops" in proc.stdout
    with Browser(exe) as browser:
        browser.open(out.as_uri())
        facts = json.loads(browser.evaluate(PAGE_FACTS))
        shot = browser.screenshot(tmp_path / "report.png")
        problems, requests = browser.problems(), browser.requests()
    if os.environ.get("SKENE_REPORT_SHOT"):
        shutil.copy(shot, os.environ["SKENE_REPORT_SHOT"])
    assert problems == [], problems
    # Self-contained: the page itself is the only thing the browser loaded; no script at all.
    assert requests == [out.as_uri()] and facts["scripts"] == 0
    assert facts["title"].startswith("skene-cdc report")
    expected = expected_funnels(report_db)
    assert set(facts["loops"]) == {"activation", "retention"}
    for name, want in expected.items():
        got = facts["loops"][name]
        assert {k: got[k] for k in want} == want, (name, got)
        assert got["series"] == ["enrolled", "sent", "converted"]
        assert got["points"] == 3 * 14 and got["funnelBars"] == 3 and got["visible"]
    # Conversion per template variant: only retention has variants; the page's figures are the
    # database's.
    assert facts["loops"]["retention"]["variants"] == expected_variants(report_db)
    assert facts["loops"]["retention"]["variantBars"] == 2
    assert facts["loops"]["activation"]["variantBars"] == 0
    assert facts["hourlyBars"] == 24 and facts["lagChart"] and facts["cards"] == 6
    assert shot.stat().st_size > 20_000  # a real picture, not a blank page


def test_report_without_loops_says_how_to_start(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    out = tmp_path / "r.html"
    run_cli("report", "-o", str(out), url=db_url, config_path=tmp_path / "skene.yaml")
    html = out.read_text()
    assert "No loop has enrolled anyone yet" in html and "no cursor yet" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html


def test_chart_labels_are_escaped_and_axes_round() -> None:
    svg = charts.hbars("variants", "x", [("<b>evil</b>", 50.0, "50%")], "#000", scale_max=100)
    assert "<b>" not in svg and "&lt;b&gt;evil&lt;/b&gt;" in svg
    assert [charts.nice_max(v) for v in (0, 3, 5, 198, 1234)] == [4, 4, 8, 200, 2000]
    assert charts.nice_max(0.013, integer=False) == 0.02
    line = charts.line_chart("t", "t", ["a", "b", "c"],
                             [charts.Series("s", [1, None, 3], "#000")])
    # A gap (None) breaks the line: two separate moves, no line drawn through the gap.
    assert line.count('d="M') == 1 and " M" in line.split('d="')[1].split('"')[0]
