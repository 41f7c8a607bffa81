"""`skene-cdc check`: every problem in one run with its fix, non-zero exit on errors, and nothing
changed in the database (catalog and rows compared before and after)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skene_cdc.checks import CheckContext, Problem
from skene_cdc.cli import check as check_cli
from tests.conftest import DEFAULT_CONFIG, run_cli, write_config
from tests.pgcluster import PgCluster
from tests.setup_helpers import catalog_snapshot, url_as

_roles = itertools.count()

BROKEN = """\
version: 1
app:
  users: {table: public.users, id: id, email: mail, created_at: name}
  activity:
    - table: public.user_actions
      user_id: user_id
      timestamp: created_at
      event: kind
    - table: public.page_views
      user_id: user_id
email:
  templates: templates
"""


@pytest.fixture
def limited_role(pg: PgCluster, app_url: str) -> Iterator[str]:
    """A login role that owns nothing (grants to it live in app_url's database only)."""
    name = f"limited_{os.getpid()}_{next(_roles)}"
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
    yield name
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{name}"')
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f'DROP ROLE "{name}"')


def test_clean_setup_is_ok(db_url: str, tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    proc = run_cli("check", url=db_url, config_path=tmp_path / "skene.yaml")
    assert proc.stdout.splitlines()[-1].startswith("ok:"), proc.stdout
    assert "0 errors, 0 warnings" in proc.stdout


def test_broken_setup_lists_every_problem_and_changes_nothing(
        app_url: str, tmp_path: Path, limited_role: str) -> None:
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute(f'REVOKE CREATE ON DATABASE "{app_url.rsplit("/", 1)[1]}" FROM PUBLIC')
        conn.execute(f'GRANT SELECT ON users TO "{limited_role}"')
    (tmp_path / "skene.yaml").write_text(BROKEN)
    (tmp_path / "templates").mkdir()
    url = url_as(app_url, limited_role)
    before = catalog_snapshot(app_url)
    proc = run_cli("check", url=url, config_path=tmp_path / "skene.yaml", check=False)
    after = catalog_snapshot(app_url)
    assert before == after, "check changed the database"
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    expected = [
        "skene.yaml:3: app.users.email: column 'mail' does not exist in public.users",
        "skene.yaml:3: app.users.created_at: column 'name' is text, not a timestamp",
        "skene.yaml:8: app.activity[0].event: column 'kind' does not exist in public.user_actions",
        "skene.yaml:9: table 'public.page_views' (app.activity[1].table) does not exist",
        "skene is not installed in this database yet",
        f"role {limited_role} cannot create schema skene",
        f"role {limited_role} does not own public.users (owner: postgres)",
        f"role {limited_role} does not own public.user_actions (owner: postgres)",
        f"role {limited_role} cannot read public.user_actions",
    ]
    for line in expected:
        assert line in out, f"missing {line!r} in:\n{out}"
    assert out.count("fix: ") >= len(expected)
    assert "FAILED" in out.splitlines()[-1]

    as_json = run_cli("check", "--json", url=url, config_path=tmp_path / "skene.yaml",
                      check=False)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and report["errors"] >= 8 and report["warnings"] >= 1
    assert all(p["fix"] for p in report["problems"])
    assert catalog_snapshot(app_url) == before


def test_config_error_is_the_first_and_only_problem(tmp_path: Path) -> None:
    (tmp_path / "skene.yaml").write_text("version: 1\napp:\n  users: {table: users, colour: x}\n"
                                         "loops: [{name: a}]\n")
    # The database URL points nowhere: check must stop at the config and not try it.
    proc = run_cli("check", "--json", url="postgresql://nobody@127.0.0.1:1/none",
                   config_path=tmp_path / "skene.yaml", check=False)
    assert proc.returncode == 1
    problems = json.loads(proc.stdout)["problems"]
    assert problems and all(p["where"].startswith(str(tmp_path / "skene.yaml")) for p in problems)
    assert any("unknown key 'colour'" in p["message"] for p in problems)
    assert any(p["message"].startswith("loops[0].type") for p in problems)
    assert not any("connect" in p["message"] for p in problems)


def test_unparseable_yaml(tmp_path: Path) -> None:
    (tmp_path / "skene.yaml").write_text("app:\n  users: [\n")
    proc = run_cli("check", url="postgresql://nobody@127.0.0.1:1/none",
                   config_path=tmp_path / "skene.yaml", check=False)
    assert proc.returncode == 1
    assert "not valid YAML" in proc.stdout and "FAILED" in proc.stdout


def test_unreachable_database_is_one_problem(tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    proc = run_cli("check", "--json", url="postgresql://nobody:hunter2@127.0.0.1:1/none",
                   config_path=tmp_path / "skene.yaml", check=False)
    assert proc.returncode == 1
    problems = json.loads(proc.stdout)["problems"]
    assert [p["where"] for p in problems if p["severity"] == "error"] == ["database"]
    assert "cannot connect" in problems[0]["message"]
    assert "hunter2" not in proc.stdout + proc.stderr  # the password, redacted in JSON too


def test_password_is_never_printed(tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    proc = run_cli("check", url="postgresql://app:s3cret@127.0.0.1:1/none",
                   config_path=tmp_path / "skene.yaml", check=False)
    assert "s3cret" not in proc.stdout + proc.stderr


def test_other_areas_checks_run_and_warnings_do_not_fail(db_url: str, tmp_path: Path) -> None:
    """A check registered by another area runs on the same read-only connection."""
    seen: list[bool] = []

    def probe(ctx: CheckContext) -> Iterator[Problem]:
        assert ctx.conn is not None
        seen.append(ctx.conn.read_only)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            ctx.conn.execute("CREATE TABLE public.sneaky (id int)")
        ctx.conn.rollback()
        yield Problem("environment", "probe warning", "nothing to do", "warning")

    write_config(tmp_path, DEFAULT_CONFIG)
    from skene_cdc.cli.context import Ctx
    from skene_cdc.runtime.checks import CHECKS

    problems, n = check_cli.gather(Ctx(db_url, str(tmp_path / "skene.yaml")), [*CHECKS, probe])
    assert seen == [True]
    assert [p.message for p in problems] == ["probe warning"]
    assert n == len(CHECKS) + 1


def test_every_check_runs_once_database_first() -> None:
    """The one list (runtime/checks.py) holds every check function in the code base, once, and
    starts with the database checks whatever was imported before it."""
    import ast

    import skene_cdc
    from skene_cdc.runtime.checks import CHECKS

    root = Path(skene_cdc.__file__).parent
    defined = set()
    for path in root.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            # a check: (ctx: CheckContext) -> Iterator[Problem] (or Iterable)
            if not isinstance(node, ast.FunctionDef) or not node.args.args:
                continue
            first = node.args.args[0].annotation
            returns = ast.unparse(node.returns) if node.returns else ""
            if first is not None and ast.unparse(first) == "CheckContext" and \
                    returns in ("Iterator[Problem]", "Iterable[Problem]"):
                mod = ".".join(path.relative_to(root.parent).with_suffix("").parts)
                defined.add(f"{mod}.{node.name}")
    listed = [f"{fn.__module__}.{fn.__name__}" for fn in CHECKS]
    assert len(listed) == len(set(listed))
    assert set(listed) == defined, set(listed) ^ defined
    assert listed[0] == "skene_cdc.inspect.prereqs.config_matches_database"
    assert listed[-1] == "skene_cdc.billing.checks.check_stripe"
