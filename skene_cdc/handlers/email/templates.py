"""Email templates: `<templates>/<name>.html` (+ optional `<name>.txt`), front matter with the
subject, Jinja2 in a sandbox with StrictUndefined.

Every error names the file and line. A variable that is missing, or that renders as NULL, is an
error rather than an empty string: a delivery that would say "Hi ," fails loudly instead.
"""

from __future__ import annotations

import re
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from skene_cdc.errors import SkeneError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.S | re.M)
# Notes for whoever edits the template, not for the recipient. Outlook's conditional comments
# (`<!--[if mso]>`) are markup and stay.
_HTML_COMMENT = re.compile(r"<!--(?!\s*\[if\b)(?!\s*<!\[endif).*?-->", re.S)
RESERVED = ("user", "event", "unsubscribe_url")
# What `check` and `preview` render {{ unsubscribe_url }} as; the sender gives each email its own
# signed link (handlers/email/unsubscribe.py).
PREVIEW_UNSUBSCRIBE_URL = "https://unsubscribe.example.invalid/preview"


class TemplateProblem(SkeneError):
    """A template cannot be loaded or rendered; `where` is `file:line`. `null`: it failed only
    because a value was NULL for this user (a personalization fallback may stand in)."""

    null: bool = False


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str | None


@dataclass(frozen=True)
class _Part:
    template: Template
    path: str


@dataclass(frozen=True)
class Compiled:
    name: str
    subject: _Part
    html: _Part
    text: _Part | None
    mtimes: tuple[tuple[int, int], tuple[int, int] | None]


class NullValue(UndefinedError):
    """An expression rendered NULL (or a date filter was given NULL): what a personalization's
    `fallback` stands in for. A variable that does not exist at all is a plain UndefinedError."""


NULL_MESSAGE = ("an expression rendered NULL (None); give it a fallback, e.g. "
                "{{ user.name or 'there' }} or personalization `{value: ..., fallback: ...}`")


def _finalize(value: Any) -> Any:
    # `{{ user.name }}` for a user whose name is NULL would print "None": refuse, like a missing
    # variable, so the author writes `{{ user.name or "there" }}` deliberately.
    if value is None:
        raise NullValue(NULL_MESSAGE)
    return value


def _to_datetime(value: Any) -> datetime:
    if value is None:
        raise NullValue(NULL_MESSAGE)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise UndefinedError(f"{value!r} is not a date")


def _date(value: Any, fmt: str = "%B %-d, %Y") -> str:
    """`{{ user.created_at | date }}` -> "March 4, 2026"; any strftime format as the argument."""
    return _to_datetime(value).strftime(fmt)


def _ago(value: Any) -> str:
    """`8 days ago`: how the retention email names the user's last activity. Timestamps arrive
    as datetimes or, from a delivery's stored context, as ISO 8601 text."""
    when = _to_datetime(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - when).total_seconds()))
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
                       ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and (unit not in ("week", "month") or seconds >= 2 * size):
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def _env(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape,
                               finalize=_finalize, keep_trailing_newline=True)
    env.filters["date"] = _date
    env.filters["ago"] = _ago
    return env


HTML_ENV = _env(True)
TEXT_ENV = _env(False)


def compile_string(env: SandboxedEnvironment, source: str, path: str, first_line: int = 1
                   ) -> Template:
    """Compile `source` as if it began on `first_line` of `path`, so errors name the real line."""
    padded = "\n" * (first_line - 1) + source
    try:
        code = env.compile(padded, path, path)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"syntax error: {exc.message}", where=f"{path}:{exc.lineno}",
                              hint="Fix the Jinja2 syntax at that line") from None
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def render_part(part: _Part, variables: Mapping[str, Any]) -> str:
    try:
        return part.template.render(**variables).lstrip("\n")
    except TemplateError as exc:
        raise _located(exc, part.path) from None
    except (ValueError, TypeError, ArithmeticError, LookupError) as exc:
        raise _located(exc, part.path) from None


def _located(exc: Exception, path: str) -> TemplateProblem:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path:
            line = frame.lineno
    what = "undefined variable" if isinstance(exc, UndefinedError) else type(exc).__name__
    message = getattr(exc, "message", None) or str(exc)
    problem = TemplateProblem(f"{what}: {message}", where=f"{path}:{line}" if line else path,
                              hint="Every variable must exist for every user: fix the name, or "
                                   "give it a fallback with `or` / `| default(...)`")
    problem.null = isinstance(exc, NullValue)
    return problem


class Templates:
    """The templates folder. Compiled templates are cached and reloaded when a file changes, so
    a long-running `listen` picks up edits."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, Compiled] = {}
        self._lock = threading.Lock()

    def path(self, name: str, suffix: str = ".html") -> Path:
        if not _NAME.match(name) or ".." in name.split("/"):
            raise TemplateProblem(f"template name {name!r} is not a plain file name",
                                  hint="Use letters, digits, _ . - (and / for sub-folders)")
        return self.directory / f"{name}{suffix}"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def get(self, name: str) -> Compiled:
        html_path, text_path = self.path(name), self.path(name, ".txt")
        try:
            # (mtime, size): a coarse file-system clock may not tick between two quick edits.
            mtimes = (_stamp(html_path), _stamp(text_path) if text_path.is_file() else None)
        except FileNotFoundError:
            raise TemplateProblem(f"template {name!r} not found: no file {html_path}",
                                  hint=f"Create {html_path.name} in {self.directory}, or fix "
                                       "the template name in skene.yaml") from None
        with self._lock:
            cached = self._cache.get(name)
        if cached and cached.mtimes == mtimes:
            return cached
        compiled = self._compile(name, html_path, text_path if mtimes[1] is not None else None,
                                 mtimes)
        with self._lock:
            self._cache[name] = compiled
        return compiled

    def _compile(self, name: str, html_path: Path, text_path: Path | None,
                 mtimes: tuple[tuple[int, int], tuple[int, int] | None]) -> Compiled:
        source = html_path.read_text(encoding="utf-8")
        shown = str(html_path)
        subject, subject_line, body, body_line = _front_matter(source, shown)
        text = None
        if text_path is not None:
            text_source = text_path.read_text(encoding="utf-8")
            _, _, text_body, text_line = _front_matter(text_source, str(text_path), required=False)
            text = _Part(compile_string(TEXT_ENV, text_body, str(text_path), text_line),
                         str(text_path))
        return Compiled(
            name=name,
            subject=_Part(compile_string(TEXT_ENV, subject, shown, subject_line), shown),
            html=_Part(compile_string(HTML_ENV, strip_comments(body), shown, body_line), shown),
            text=text, mtimes=mtimes)

    def render(self, name: str, variables: Mapping[str, Any]) -> Rendered:
        compiled = self.get(name)
        subject = " ".join(render_part(compiled.subject, variables).split())
        if not subject:
            raise TemplateProblem("the subject rendered empty", where=compiled.subject.path,
                                  hint="Give the front matter a non-empty `subject:`")
        return Rendered(subject=subject, html=render_part(compiled.html, variables),
                        text=render_part(compiled.text, variables) if compiled.text else None)


def strip_comments(html: str) -> str:
    """Drop developer comments before compiling (so they are never sent, and Jinja inside them
    never runs), keeping their line breaks so error messages still name the right line."""
    return _HTML_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), html)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _front_matter(source: str, path: str, required: bool = True) -> tuple[str, int, str, int]:
    """(subject, its line, body, the body's first line)."""
    source = source.lstrip("\ufeff")
    match = _FRONT.match(source)
    if not match:
        if required:
            raise TemplateProblem("no front matter with a subject", where=f"{path}:1",
                                  hint='Begin the file with three lines: ---, subject: "...", ---')
        return "", 1, source, 1
    body_line = source.count("\n", 0, match.end()) + 1
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise TemplateProblem(f"front matter is not valid YAML: {exc}", where=f"{path}:{line}",
                              hint='Write it as: subject: "Welcome, {{ name }}"') from None
    if not isinstance(meta, dict):
        raise TemplateProblem("front matter must be a mapping", where=f"{path}:2",
                              hint='Write it as: subject: "Welcome, {{ name }}"')
    unknown = sorted(set(meta) - {"subject"})
    if unknown:
        raise TemplateProblem(f"unknown front matter key(s) {', '.join(map(str, unknown))}",
                              where=f"{path}:2", hint="Only `subject` is understood")
    subject = meta.get("subject")
    if required and (not isinstance(subject, str) or not subject.strip()):
        raise TemplateProblem("the front matter has no `subject`", where=f"{path}:2",
                              hint='Add a line such as: subject: "Welcome, {{ name }}"')
    subject_line = 2
    for i, line in enumerate(match.group(1).splitlines(), start=2):
        if line.lstrip().startswith("subject:"):
            subject_line = i
    return str(subject or ""), subject_line, source[match.end():], body_line


@lru_cache(maxsize=1024)
def _personalization(source: str, path: str) -> _Part:
    return _Part(compile_string(TEXT_ENV, source, path), path)


def variables(personalization: Mapping[str, Any], user: Mapping[str, Any],
              event: Mapping[str, Any] | None, where: str, *,
              unsubscribe_url: str = PREVIEW_UNSUBSCRIBE_URL) -> dict[str, Any]:
    """What a template sees: each personalization key (its value rendered with `user` and
    `event`), plus `user`, `event` and `unsubscribe_url` themselves. A value is a template
    string, or (skene.yaml's `{value, fallback}`, as a delivery's context stores it) a mapping
    with a fallback that is used when the value renders empty or NULL."""
    base: dict[str, Any] = {"user": user, "event": event, "unsubscribe_url": unsubscribe_url}
    out = dict(base)
    for key, spec in personalization.items():
        if key in RESERVED:
            raise TemplateProblem(f"personalization key {key!r} would hide the built-in "
                                  f"`{key}` variable", where=where, hint="Rename the key")
        source, fallback = split_spec(spec)
        label = f"{where} personalization.{key}"
        try:
            value = render_part(_personalization(source, label), base)
        except TemplateProblem as exc:
            if fallback is None or not exc.null:
                raise
            value = ""
        if not value.strip() and fallback is not None:
            value = render_part(_personalization(fallback, f"{label}.fallback"), base)
        if not value.strip():
            raise TemplateProblem(f"personalization {key!r} rendered empty for this user",
                                  where=where, hint="Give it a fallback, e.g. "
                                                    f"`{key}: {{value: \"{source}\", fallback: "
                                                    "there}` in skene.yaml")
        out[key] = value
    return out


def split_spec(spec: Any) -> tuple[str, str | None]:
    """(value template, fallback template or None) of one personalization entry."""
    if isinstance(spec, str):
        return spec, None
    if isinstance(spec, Mapping) and isinstance(spec.get("value"), str):
        fallback = spec.get("fallback")
        return spec["value"], str(fallback) if fallback is not None else None
    value = getattr(spec, "value", None)
    if isinstance(value, str):
        return value, getattr(spec, "fallback", None)
    raise TemplateProblem(f"a personalization value must be a template string or "
                          f"{{value, fallback}}, not {spec!r}",
                          hint="Fix the personalization in skene.yaml")
