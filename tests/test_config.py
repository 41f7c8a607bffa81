"""Bad config gets a clear error that names the field and line, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from skene_cdc.config import parse_config
from skene_cdc.errors import ConfigError
from tests.conftest import DEFAULT_CONFIG, run_cli, write_config


def test_contract_example_parses() -> None:
    text = (Path(__file__).parent / "data" / "contract_skene.yaml").read_text()
    cfg = parse_config(text, "skene.yaml", env={})
    assert [loop.name for loop in cfg.loops] == ["activation", "retention"]
    assert cfg.loops[1].steps[0].condition.type == "dormant"


def test_env_interpolation() -> None:
    cfg = parse_config(DEFAULT_CONFIG.replace("public.users", '"${USERS_TABLE}"'), "s.yaml",
                       env={"USERS_TABLE": "app.members"})
    assert cfg.app.users.table == "app.members"


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace("  poll_interval: 1s", "  poll_intervall: 1s"),
     "s.yaml:10: capture.poll_intervall: unknown key 'poll_intervall'"),
    (lambda t: t.replace("public.users", '"${NOT_SET_ANYWHERE}"'),
     "s.yaml:3: app.users.table uses ${NOT_SET_ANYWHERE} but the environment variable "
     "NOT_SET_ANYWHERE is not set"),
    (lambda t: t.replace("version: 1", "version: 2"), "s.yaml:1: version:"),
    (lambda t: t.replace("poll_interval: 1s", "poll_interval: soon"),
     "s.yaml:10: capture.poll_interval: Value error, 'soon' is not a duration"),
    (lambda t: t + "  bad: [unclosed\n", "s.yaml:16: not valid YAML"),
])
def test_bad_config_names_field_and_line(edit: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(edit(DEFAULT_CONFIG), "s.yaml", env={})  # type: ignore[operator]
    assert expected in str(info.value)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace("poll_interval: 1s", "poll_interval: 1s\n  colour: blue"),
     "capture.colour: unknown key 'colour'"),
    (lambda t: t.replace("public.user_actions", "public.no_such_table"),
     "skene.yaml:5: table 'public.no_such_table' (app.activity[0].table) does not exist"),
    (lambda t: t.replace("event: action_type", "event: kind"),
     "skene.yaml:8: app.activity[0].event: column 'kind' does not exist in public.user_actions"),
    (lambda t: t.replace("public.users", '"${APP_USERS}"'),
     "APP_USERS is not set"),
])
def test_bad_config_exits_nonzero_and_changes_nothing(app_url: str, tmp_path: Path, edit: object,
                                                       expected: str) -> None:
    (tmp_path / "skene.yaml").write_text(edit(DEFAULT_CONFIG))  # type: ignore[operator]
    for args in (["migrate"], ["migrate", "--sql"]):
        proc = run_cli(*args, url=app_url, config_path=tmp_path / "skene.yaml", check=False)
        assert proc.returncode != 0
        assert expected in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT to_regnamespace('skene')").fetchone() == (None,)


def test_missing_config_file_says_how_to_fix(app_url: str, tmp_path: Path) -> None:
    proc = run_cli("migrate", url=app_url, config_path=tmp_path / "nope.yaml", check=False)
    assert proc.returncode != 0 and "skene-cdc init" in proc.stderr


def test_unreachable_database_hides_password(tmp_path: Path) -> None:
    write_config(tmp_path, DEFAULT_CONFIG)
    proc = run_cli("status", url="postgresql://app:s3cret@127.0.0.1:1/app",
                   config_path=tmp_path / "skene.yaml", check=False)
    assert proc.returncode != 0
    assert "cannot connect" in proc.stderr and "s3cret" not in proc.stderr
