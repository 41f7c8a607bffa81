"""Every migration's down step undoes its up step (River's MigrateDownAfterUp): from an empty
database up one revision at a time, then at each revision down one and up again, and the schema
must be what it was. The `*_down.sql` files run under no command, so only this keeps them true."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from skene_cdc.migrations.runner import HERE, alembic_config
from tests.conftest import DEFAULT_CONFIG, scalar, write_config
from tests.test_migrate import describe


def shape(url: str) -> list[tuple[object, ...]]:
    """describe() of schema skene; none at all before the first migration and after the last
    down."""
    return describe(url) if scalar(url, "SELECT to_regnamespace('skene')") else []


def test_each_down_undoes_its_up(app_url: str, tmp_path: Path) -> None:
    cfg = alembic_config(app_url, config=write_config(tmp_path, DEFAULT_CONFIG))
    revisions = [s.revision for s in reversed(list(ScriptDirectory(str(HERE)).walk_revisions()))]
    assert len(revisions) >= 12
    before = shape(app_url)
    shapes = []
    for rev in revisions:
        command.upgrade(cfg, rev)
        shapes.append(shape(app_url))
    for i in reversed(range(len(revisions))):
        command.downgrade(cfg, revisions[i - 1] if i else "base")
        assert shape(app_url) == (shapes[i - 1] if i else before), f"down from {revisions[i]}"
        command.upgrade(cfg, revisions[i])
        assert shape(app_url) == shapes[i], f"up to {revisions[i]} after its down"
        command.downgrade(cfg, revisions[i - 1] if i else "base")
