"""The one exception type users see: a message that says what is wrong and how to fix it."""

from __future__ import annotations


class SkeneError(Exception):
    """An error caused by input or environment, reported without a traceback.

    `where` names the file/field/line, `hint` the fix. The CLI prints all three as one paragraph.
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        parts = [f"{self.where}: {self.message}" if self.where else self.message]
        if self.hint:
            parts.append(self.hint)
        return " ".join(p if p.endswith(".") else p + "." for p in parts)


class ConfigError(SkeneError):
    """skene.yaml is malformed, or names something the database does not have."""


class PrerequisiteError(SkeneError):
    """The database lacks something skene needs (privilege, wal_level, schema not migrated)."""


def first_line(exc: BaseException) -> str:
    """An exception's first line, for logs and status (a PostgreSQL error's LINE/QUERY context
    follows on later lines); its type name when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
