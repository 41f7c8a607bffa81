"""`skene-cdc --version` and `--help` import click and the entry point only: no database driver,
no pydantic, no Alembic, no Stripe (they cost seconds; see docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("psycopg", "pydantic", "sqlalchemy", "alembic", "stripe", "redis", "jinja2", "yaml")


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(flag: str) -> None:
    code = ("import sys\nfrom skene_cdc.cli.main import cli\n"
            f"try:\n    cli([{flag!r}], prog_name='skene-cdc')\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(m for m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    loaded = set(proc.stdout.split())
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert not heavy, heavy
