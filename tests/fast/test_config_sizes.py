"""capture.max_slot_lag is parsed once, when skene.yaml loads, into bytes or None (off); every
reader (listener, check, migrate) gets that value, and a bad one is one error with its line."""

from __future__ import annotations

import pytest

from skene_cdc.config import parse_config
from skene_cdc.config.types import format_size, parse_limit
from skene_cdc.errors import ConfigError

BASE = """\
version: 1
app:
  users: {table: public.users, id: id, email: email, created_at: created_at}
capture:
  mode: logical
"""


@pytest.mark.parametrize(("text", "expected"), [
    ("1GB", 1024**3), ("512kB", 512 * 1024), ("20 GB", 20 * 1024**3), ("512m", 512 * 1024**2),
    ("off", None), ("unlimited", None), ("0", None), (-1, None), (1048576, 1024**2),
])
def test_limits(text: object, expected: int | None) -> None:
    assert parse_limit(text) == expected


def test_the_default_is_one_gigabyte() -> None:
    assert parse_config(BASE).capture.max_slot_lag == 1024**3


def test_a_bad_size_is_one_config_error_with_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + "  max_slot_lag: lots\n", "s.yaml")
    message = str(info.value)
    assert "s.yaml:6" in message and "'lots' is not a size" in message, message


@pytest.mark.parametrize(("n", "text"), [(1024**3, "1GB"), (512 * 1024, "512kB"),
                                         (3 * 1024**2, "3MB"), (1000, "1000B")])
def test_format_size_writes_what_postgres_reads(n: int, text: str) -> None:
    assert format_size(n) == text
    assert parse_limit(text) == n
