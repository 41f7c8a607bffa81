"""Every loop the docs show, in one skene.yaml, runs: `check`, `listen --once` and `loops run`
accept it, and every config value round-trips through the database (issue 10: `paid: .inf` next
to any other loop crashed `listen` with "Token "Infinity" is invalid")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import yaml

from skene_cdc.config.loops import Loop
from tests.conftest import DEFAULT_CONFIG, ROOT, run_cli, write_config
from tests.pgcluster import RedisServer

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def documented_loops() -> list[dict[str, Any]]:
    """Each `loops:` entry of every YAML block in README.md and docs/, renamed where two share a
    name (they are separate examples)."""
    found: list[dict[str, Any]] = []
    names: set[str] = set()
    for doc in DOCS:
        for block in _BLOCK.findall(doc.read_text()):
            data = yaml.safe_load(block)
            for loop in (data or {}).get("loops", []) if isinstance(data, dict) else []:
                name = loop["name"]
                while loop["name"] in names:
                    loop["name"] = f"{name}_{len(names)}"
                names.add(loop["name"])
                found.append(loop)
    return found


def test_every_documented_loop_together(db_url: str, redis_server: RedisServer,
                                        tmp_path: Path) -> None:
    loops = documented_loops()
    types = {lp["type"] for lp in loops}
    assert {"activation", "retention", "freemium"} <= types, types
    text = DEFAULT_CONFIG + yaml.safe_dump({
        "loops": loops,
        "stripe": {"webhook_secret": "whsec_docs", "conversion_window": "30d"},
        "redis": {"url": redis_server.url, "key_prefix": f"docs{tmp_path.name}:"},
    }, sort_keys=False)
    config = write_config(tmp_path, text)
    cfg = tmp_path / "skene.yaml"
    checked = run_cli("check", url=db_url, config_path=cfg, check=False)
    assert " 0 errors" in checked.stdout, checked.stdout + checked.stderr
    once = run_cli("listen", "--once", url=db_url, config_path=cfg, check=False)
    assert once.returncode == 0, once.stderr
    assert "unexpected" not in once.stderr and "Traceback" not in once.stderr, once.stderr
    for loop in config.loops:
        if loop.type != "freemium":
            ran = run_cli("loops", "run", loop.name, "--dry-run", url=db_url, config_path=cfg,
                          check=False)
            assert ran.returncode == 0, (loop.name, ran.stderr)
    # What skene.loops stores reads back as the very loop skene.yaml defines.
    with psycopg.connect(db_url) as conn:
        stored = dict(conn.execute("SELECT name, definition FROM skene.loops").fetchall())
    assert set(stored) == {lp.name for lp in config.loops}
    for loop in config.loops:
        assert Loop.model_validate(stored[loop.name]) == loop, loop.name
