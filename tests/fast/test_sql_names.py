"""Every SQL name the code loads is a file under skene_cdc/sql, and every file there is loaded:
a typo or a dead file fails here, not on the line that runs it one day.

Loaders: `sql.load(name)`, `run_sql(name)` (migrations), and the per-folder `_load(name)` helpers
of migrations/logical.py and migrations/reader_role.py. A name that is a variable or an f-string
is checked by the string constants that feed it: any constant that looks like `<folder>/<name>`
for a folder under sql/ must exist, and counts as a use."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import skene_cdc

ROOT = Path(skene_cdc.__file__).parent
SQL = ROOT / "sql"
# The per-folder helpers: module file name -> the folder their `_load(name)` reads from.
PREFIXED = {"logical.py": "logical/", "reader_role.py": "roles/"}
LOADERS = {"sql.load", "run_sql", "_load"}
# Loaded only by a test: the schema the migrations must build (test_migrate.py).
NOT_BY_NAME = {"schema"}


def sql_files() -> set[str]:
    return {p.relative_to(SQL).with_suffix("").as_posix() for p in SQL.rglob("*.sql")}


@cache  # one scan of the code for the three tests
def references() -> tuple[list[tuple[str, str]], set[str]]:
    """([(where, name) every constant name loaded or name-like], {names used})."""
    folders = {p.name for p in SQL.iterdir() if p.is_dir()}
    named: list[tuple[str, str]] = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and node.args and ast.unparse(node.func) in LOADERS:
                arg = node.args[0]
                prefix = PREFIXED.get(path.name, "") if ast.unparse(node.func) == "_load" else ""
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and prefix:
                    named.append((where, prefix + arg.value))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    re.fullmatch(r"[a-z_]+(/[a-z0-9_]+)+", node.value) and \
                    node.value.split("/")[0] in folders:
                named.append((where, node.value))
    return named, {name for _, name in named}


def test_every_loaded_name_is_a_file() -> None:
    files = sql_files()
    named, _ = references()
    missing = [f"{where}: {name}" for where, name in named if name not in files]
    assert not missing, "no such SQL file:\n" + "\n".join(missing)


def test_every_file_is_loaded() -> None:
    _, used = references()
    dead = sorted(sql_files() - used - NOT_BY_NAME)
    assert not dead, f"SQL files nothing loads (delete them or load them): {dead}"


def test_the_scan_sees_every_kind_of_loader() -> None:
    _, used = references()
    assert "migrations/0001_foundation" in used  # run_sql in an Alembic version
    assert "logical/create_slot" in used  # _load("create_slot") in migrations/logical.py
    assert "roles/create_reader" in used  # _load("create_reader") in migrations/reader_role.py
    assert "demo/caught_up" in used  # a name handed to a helper that loads it
