"""Which columns of a captured table leave it: the configured `include`/`exclude` list, or by
default every column except those whose name looks secret. Shared by the trigger (its
arguments), logical capture (the decoder drops the same columns), `skene.users`, `init` and
`check`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from skene_cdc.config.models import ColumnChoice

# Words that make a column name look secret (docs/config.md lists them). Matched against the
# name's words, so `password_hash`, `hashedPassword`, `api_key` and `otp_secret` match while
# `hashtag` or `keyboard_layout` do not.
SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "passphrase", "hash", "hashed", "salt", "token", "tokens",
    "secret", "secrets", "otp", "totp", "mfa", "apikey", "credential", "credentials", "pin",
    "ssn", "cvv", "iban",
})
# Two words that together look secret although neither does alone.
SECRET_PAIRS = frozenset({
    ("api", "key"), ("private", "key"), ("secret", "key"), ("session", "key"),
    ("access", "key"), ("recovery", "code"), ("recovery", "codes"), ("backup", "codes"),
    ("security", "answer"), ("card", "number"),
})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def words(name: str) -> list[str]:
    """`hashedPassword` -> ['hashed', 'password']; `api_key` -> ['api', 'key']."""
    return [w.lower() for w in _WORD.findall(name)]


def secret_reason(name: str) -> str | None:
    """Why a column name looks secret (the word or pair of words that matched), or None."""
    ws = words(name)
    for w in ws:
        if w in SECRET_WORDS:
            return f"{w!r}"
    for pair in zip(ws, ws[1:], strict=False):
        if pair in SECRET_PAIRS:
            return f"{' '.join(pair)!r}"
    return None


def looks_secret(name: str) -> bool:
    return secret_reason(name) is not None


def kept(mode: str, listed: Sequence[str], column: str) -> bool:
    """Whether a trigger (or the decoder) with this column mode and list captures `column`."""
    if mode == "include":
        return column in listed
    if mode == "exclude":
        return column not in listed
    return True


def secrets_captured(mode: str, listed: Sequence[str], columns: Iterable[str],
                     mapped: Iterable[str] = ()) -> list[str]:
    """Columns this mode and list capture whose names look secret. Mapped columns (ids, emails,
    event names) are skene's to read and are left out of the warning."""
    needed = set(mapped)
    return [c for c in columns if c not in needed and looks_secret(c) and kept(mode, listed, c)]


@dataclass(frozen=True)
class Selection:
    """The columns that leave a table. `mode` is what the trigger gets: 'all', 'include' or
    'exclude' with `listed`; `captured` is the resulting set among the columns seen now."""

    mode: str
    listed: tuple[str, ...]
    captured: tuple[str, ...]
    left_out: tuple[str, ...]
    keep_unchanged: bool = False

    def keeps(self, column: str) -> bool:
        return kept(self.mode, self.listed, column)

    def trigger_args(self) -> list[str]:
        listed = "{" + ",".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"'
                                for c in self.listed) + "}"
        return [self.mode, listed, "keep" if self.keep_unchanged else "skip"]


class SelectionError(ValueError):
    """A list names a column the table lacks, or leaves out one skene maps."""


def select(choice: ColumnChoice, columns: Sequence[str], mapped: Iterable[str]) -> Selection:
    """Resolve a table's column choice against its columns now. Mapped columns (id, email,
    user_id, timestamp, event...) always leave the table: skene cannot work without them."""
    needed = [c for c in dict.fromkeys(mapped) if c in columns]
    if choice.include is not None:
        unknown = [c for c in choice.include if c not in columns]
        if unknown:
            raise SelectionError(f"include names {', '.join(map(repr, unknown))}, which the "
                                 "table does not have")
        listed = tuple(dict.fromkeys([*needed, *choice.include]))
        captured = tuple(c for c in columns if c in listed)
        return Selection("include", listed, captured,
                         tuple(c for c in columns if c not in listed),
                         choice.capture_unchanged_updates)
    if choice.exclude is not None:
        clash = [c for c in choice.exclude if c in needed]
        if clash:
            raise SelectionError(f"exclude names {', '.join(map(repr, clash))}, which skene.yaml "
                                 "maps (id, email, user_id, timestamp or event): it must be captured")
        listed = tuple(choice.exclude)
    else:
        listed = tuple(c for c in columns if looks_secret(c) and c not in needed)
    if not listed:
        return Selection("all", (), tuple(columns), (), choice.capture_unchanged_updates)
    return Selection("exclude", listed, tuple(c for c in columns if c not in listed),
                     tuple(c for c in columns if c in listed), choice.capture_unchanged_updates)
