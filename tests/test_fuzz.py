"""Property-based tests over what parses untrusted input (issue 11, item 4): the config loader,
the condition validator, template rendering with hostile user fields. No input may produce a
traceback, an exit status other than 0 or 2, or a hang. The profile (short for `make test`, long
for `make fuzz`) comes from tests/fuzz_settings.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from skene_cdc.cli.main import cli
from skene_cdc.config import parse_config
from skene_cdc.config.yamlsource import read_config_file
from skene_cdc.errors import ConfigError, SkeneError
from skene_cdc.handlers.email.templates import Templates, variables
from skene_cdc.handlers.loops.plan import plan_loops
from skene_cdc.handlers.loops.safety import UnsafeQuery, bind_user, inspect_query
from tests.conftest import DEFAULT_CONFIG
from tests.fuzz_settings import FUZZ_TIMEOUT

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(FUZZ_TIMEOUT)]
# tmp_path is shared by the examples of one test; each example writes the files it reads.
SHARED_TMP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])

# -- skene.yaml ----------------------------------------------------------------------------------

KEYS = ["version", "app", "users", "table", "id", "email", "name", "created_at", "activity",
        "user_id", "timestamp", "event", "capture", "mode", "loops", "type", "steps", "trigger",
        "condition", "action", "query", "limit", "free", "paid", "period", "template", "cron",
        "roles", "reader", "redis", "url", "stripe", "webhook_secret", "within", "days"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(["public.users", "users", "trigger", "logical",
                                           "retention", "query", "usage", "email", "${HOME}",
                                           "${UNSET_SKENE_FUZZ}", "7d", "-1", ".inf", "1e400",
                                           "SELECT 1", "0 9 * * *", "Europe/Nowhere"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)),
    max_leaves=25)
DOCUMENTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)
# YAML features a hand-written (or hostile) file may use, spliced into generated text.
YAML_BITS = st.sampled_from([
    "&a ", "*a", "&b [*a, *a]", "<<: *a", "!!python/object:os.system", "!!binary x", "? ",
    "- ", ": ", "{", "}", "[", "]", "'", '"', "\\x00", "\t", "\n", "\n  ", "%YAML 1.1\n---\n",
    "...", "#", "|", ">", "\ufeff", "\u2028", "1e400", "0x1F", "~"])


def loads_or_refuses(text: str) -> None:
    """The one property of the loader: a Config, or a ConfigError; nothing else escapes."""
    try:
        parse_config(text, "skene.yaml", env={"HOME": "/home/x"})
    except ConfigError as exc:
        assert str(exc).strip()


@given(DOCUMENTS)
def test_generated_documents_load_or_are_refused(doc: dict[str, Any]) -> None:
    loads_or_refuses(yaml.safe_dump(doc, allow_unicode=True))


@given(DOCUMENTS, st.lists(st.tuples(st.integers(min_value=0), YAML_BITS), max_size=6))
def test_mangled_yaml_loads_or_is_refused(doc: dict[str, Any],
                                          splices: list[tuple[int, str]]) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True)
    for at, bit in splices:
        at %= len(text) + 1
        text = text[:at] + bit + text[at:]
    loads_or_refuses(text)


@given(st.text(max_size=300))
def test_any_text_loads_or_is_refused(text: str) -> None:
    loads_or_refuses(text)


@pytest.mark.parametrize("text", ['version: 1\nx: "\\U99999999"\n', "version: 1\nx: \x1f\n"])
def test_what_the_long_profile_found(text: str) -> None:
    """Inputs `make fuzz` found (PyYAML's scanner raising ValueError on a bad \\U escape, its
    reader raising outside our try on a control character), kept as plain examples."""
    loads_or_refuses(text)


@given(st.binary(max_size=300))
@SHARED_TMP
def test_any_bytes_on_disk_are_read_or_refused(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "skene.yaml"
    path.write_bytes(raw)
    try:
        loads_or_refuses(read_config_file(path))
    except ConfigError:
        pass


@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12))
def test_alias_fan_out_is_bounded(width: int, depth: int) -> None:
    text = "version: 1\na0: &a0 [" + ", ".join(["x"] * width) + "]\n"
    for i in range(1, depth + 1):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]\n"
    loads_or_refuses(text)


@given(st.one_of(DOCUMENTS.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
                 st.text(max_size=200)))
@SHARED_TMP
def test_the_cli_exits_0_or_2_without_a_traceback(tmp_path: Path, text: str) -> None:
    """As a user meets it: a command that loads the config, against an unreachable database."""
    path = tmp_path / "skene.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = CliRunner().invoke(cli, ["--config", str(path), "--database-url",
                                      "postgresql://nobody@127.0.0.1:1/none", "loops", "run",
                                      "no_such_loop", "--dry-run"])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output, result.output
    assert "This is unexpected" not in result.output, result.output


# -- conditions ----------------------------------------------------------------------------------

SQL_TOKENS = st.sampled_from([
    "SELECT", "WITH", "FROM", "WHERE", "AND", "OR", "NOT", "(", ")", ",", ";", "*", "$1", "$2",
    "$0", "$99999999999", "users", "skene.users", "u.id", "id AS user_id", "'x'", "'$1'", "E'\\''",
    "$$body$$", "$q$ $1 $q$", "--", "/*", "*/", "1", "NULL", "INTO", "FOR UPDATE", "UNION",
    "DELETE", "UPDATE", "INSERT INTO", "COPY", "DO", "CALL", "ts_stat('x')", "pg_sleep(1)",
    "query_to_xml('SELECT 1', true, true, '')", "lower(", "now()", "::text", "ARRAY[", "]",
    "LATERAL", "JOIN", "ON", "true", "\"quoted id\"", "U&\"d\\0061t\"", "\n", "\t", "\u00a0"])


@given(st.one_of(st.lists(SQL_TOKENS, max_size=25).map(" ".join), st.text(max_size=200)))
def test_the_validator_accepts_or_refuses_any_text(query: str) -> None:
    try:
        info = inspect_query(query)
    except UnsafeQuery as exc:
        assert exc.reason
        assert exc.line is None or exc.line >= 1
        return
    bound = bind_user(info, "'42'")
    assert "$1" not in bound or info.max_param == 0 or "'" in bound or "$" in bound


@given(st.lists(SQL_TOKENS, max_size=20).map(" ".join))
def test_a_condition_in_skene_yaml_is_planned_or_reported(query: str) -> None:
    """Through the config: every query becomes a plan or a Problem with file:line, never an
    exception (the config itself quotes the query as a YAML string)."""
    text = DEFAULT_CONFIG + "loops:\n  - name: f\n    type: retention\n    steps:\n" \
        "      - trigger: {type: schedule, cron: \"0 9 * * *\"}\n" \
        f"        condition: {{type: query, query: {yaml.safe_dump(query).strip()}}}\n" \
        "        action: {type: email, template: t}\n"
    try:
        config = parse_config(text, "skene.yaml")
    except ConfigError:
        return
    plans, problems = plan_loops(config)
    assert len(plans) + len([p for p in problems if p.severity == "error"]) >= 1
    assert all(p.where.startswith("skene.yaml:") for p in problems)


# -- templates with hostile user fields ----------------------------------------------------------

HOSTILE = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["{{ 7*7 }}", "{% for x in range(10**9) %}x{% endfor %}", "<script>x</script>",
                     "\r\nBcc: victim@evil.test", "{{ user.__class__.__mro__ }}", "\x00",
                     "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00", "not a date", "",
                     "${HOME}", "\u202e", "a" * 5000]),
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(), st.none(),
    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5),
                                                               st.text(max_size=5), max_size=3))

TEMPLATE = """---
subject: "Hi {{ name }}, it has been {{ user.last_activity_at | ago }}"
---
<p>Hello {{ user.name or 'there' }} ({{ user.email }}), since {{ user.created_at | date("%b %d") }}</p>
<p>{{ name }}</p>
"""
TEXT = "Hello {{ user.name or 'there' }}\n{{ name }}\n"


@given(name=HOSTILE, email=HOSTILE, created=HOSTILE, last=HOSTILE)
@SHARED_TMP
def test_templates_render_hostile_fields_as_data_or_refuse(
        tmp_path: Path, name: Any, email: Any, created: Any, last: Any) -> None:
    (tmp_path / "fuzz.html").write_text(TEMPLATE)
    (tmp_path / "fuzz.txt").write_text(TEXT)
    user = {"user_id": "1", "name": name, "email": email, "created_at": created,
            "last_activity_at": last}
    try:
        rendered = Templates(tmp_path).render(
            "fuzz", variables({"name": "{{ user.name }}"}, user, None, "skene.yaml loop f"))
    except SkeneError as exc:
        assert str(exc).strip()
        return
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    if isinstance(name, str) and name.strip():
        # A field is data, never template source: printed as is (escaped in HTML).
        assert rendered.text is not None and name in rendered.text
        assert str(escape(name)) in rendered.html


def test_printable_names_render_in_both_parts(tmp_path: Path) -> None:
    """A plain sanity anchor for the property above: an ordinary user renders."""
    (tmp_path / "fuzz.html").write_text(TEMPLATE)
    (tmp_path / "fuzz.txt").write_text(TEXT)
    user = {"user_id": "1", "name": "Ann <b>", "email": "ann@x.test",
            "created_at": "2024-01-02T00:00:00+00:00",
            "last_activity_at": "2024-01-02T00:00:00+00:00"}
    rendered = Templates(tmp_path).render(
        "fuzz", variables({"name": "{{ user.name }}"}, user, None, "skene.yaml loop f"))
    assert "Ann &lt;b&gt;" in rendered.html and "Ann <b>" in (rendered.text or "")
