"""Templates: front matter, personalization, escaping, and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from skene_cdc.errors import ConfigError
from skene_cdc.handlers.email import templates as tpl
from skene_cdc.handlers.email.providers import SmtpTarget, retry_after_seconds


def write(d: Path, name: str, body: str) -> None:
    (d / name).write_text(body)


def render(d: Path, name: str, personalization: dict[str, str], user: dict[str, object],
           event: dict[str, object] | None = None) -> tpl.Rendered:
    t = tpl.Templates(d)
    return t.render(name, tpl.variables(personalization, user, event, "skene.yaml loop x"))


def test_renders_subject_html_text_with_personalization(tmp_path: Path) -> None:
    write(tmp_path, "hi.html", '---\nsubject: "Welcome, {{ name }}"\n---\n'
                               "<p>Hi {{ name }} ({{ user.email }}), via {{ event.event }}</p>\n")
    write(tmp_path, "hi.txt", "Hi {{ name }}, last seen {{ user.last_event }}\n")
    out = render(tmp_path, "hi", {"name": "{{ user.name }}!"},
                 {"name": "Ann <b>", "email": "a@x.test", "last_event": "export"},
                 {"event": "first_project_created"})
    assert out.subject == "Welcome, Ann <b>!"
    # Personalization is rendered as text, then escaped once by the HTML part.
    assert out.html == "<p>Hi Ann &lt;b&gt;! (a@x.test), via first_project_created</p>\n"
    assert out.text == "Hi Ann <b>!, last seen export\n"


def test_subject_cannot_inject_headers(tmp_path: Path) -> None:
    write(tmp_path, "s.html", '---\nsubject: "Hi {{ user.name }}"\n---\nx\n')
    out = render(tmp_path, "s", {}, {"name": "Ann\r\nBcc: evil@x.test"})
    assert out.subject == "Hi Ann Bcc: evil@x.test"


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.html", '---\nsubject: "ok"\n---\n<p>fine</p>\n<p>{% if %}</p>\n')
    with pytest.raises(tpl.TemplateProblem) as err:
        tpl.Templates(tmp_path).get("bad")
    assert err.value.where == f"{tmp_path / 'bad.html'}:5"
    assert "syntax error" in str(err.value)


def test_syntax_error_in_subject_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.html", '---\n# a comment\nsubject: "Hi {{ name "\n---\nbody\n')
    with pytest.raises(tpl.TemplateProblem) as err:
        tpl.Templates(tmp_path).get("bad")
    assert err.value.where == f"{tmp_path / 'bad.html'}:3"


def test_undefined_variable_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "u.html", '---\nsubject: "Hi"\n---\n<p>a</p>\n<p>{{ nmae }}</p>\n')
    with pytest.raises(tpl.TemplateProblem) as err:
        render(tmp_path, "u", {"name": "x"}, {"name": "Ann"})
    assert err.value.where == f"{tmp_path / 'u.html'}:5"
    assert "'nmae' is undefined" in str(err.value)


def test_missing_user_column_and_null_value_fail_instead_of_hi_comma(tmp_path: Path) -> None:
    write(tmp_path, "n.html", '---\nsubject: "Hi"\n---\nHi {{ user.name }},\n')
    with pytest.raises(tpl.TemplateProblem, match="no attribute 'name'"):
        render(tmp_path, "n", {}, {"email": "a@x.test"})
    with pytest.raises(tpl.TemplateProblem, match="NULL"):
        render(tmp_path, "n", {}, {"name": None})
    # A personalization that renders empty is refused too.
    with pytest.raises(tpl.TemplateProblem, match="rendered empty"):
        render(tmp_path, "n", {"first": "{{ user.name }}"}, {"name": ""})
    # With a deliberate fallback, it renders.
    write(tmp_path, "f.html", '---\nsubject: "Hi"\n---\nHi {{ user.name or "there" }},\n')
    assert render(tmp_path, "f", {}, {"name": None}).html == "Hi there,\n"


def test_missing_template_and_missing_subject(tmp_path: Path) -> None:
    with pytest.raises(tpl.TemplateProblem, match="not found"):
        tpl.Templates(tmp_path).get("nope")
    write(tmp_path, "nosub.html", "<p>no front matter</p>\n")
    with pytest.raises(tpl.TemplateProblem, match="no front matter"):
        tpl.Templates(tmp_path).get("nosub")
    write(tmp_path, "empty.html", "---\ntitle: x\n---\nbody\n")
    with pytest.raises(tpl.TemplateProblem, match="unknown front matter"):
        tpl.Templates(tmp_path).get("empty")
    with pytest.raises(tpl.TemplateProblem, match="plain file name"):
        tpl.Templates(tmp_path).get("../etc/passwd")


def test_sandbox_refuses_internals(tmp_path: Path) -> None:
    write(tmp_path, "x.html", '---\nsubject: "x"\n---\n{{ user.__class__.__mro__ }}\n')
    with pytest.raises(tpl.TemplateProblem, match="unsafe"):
        render(tmp_path, "x", {}, {"name": "a"})


def test_edits_are_picked_up(tmp_path: Path) -> None:
    t = tpl.Templates(tmp_path)
    write(tmp_path, "e.html", '---\nsubject: "one"\n---\nx\n')
    assert t.render("e", {"user": {}, "event": None}).subject == "one"
    write(tmp_path, "e.html", '---\nsubject: "two, longer"\n---\nx\n')
    assert t.render("e", {"user": {}, "event": None}).subject == "two, longer"


def test_smtp_urls_and_retry_after() -> None:
    t = SmtpTarget.parse("smtp://bob:p%40ss@mail.test:2525?starttls=true")
    assert (t.host, t.port, t.tls, t.username, t.password) == ("mail.test", 2525, "starttls",
                                                               "bob", "p@ss")
    assert SmtpTarget.parse("smtp+starttls://mail.test").port == 587
    assert SmtpTarget.parse("smtps://mail.test").tls == "ssl"
    assert SmtpTarget.parse("smtp://localhost:1025").tls == "none"
    with pytest.raises(ConfigError, match="SMTP_URL"):
        SmtpTarget.parse("http://mail.test")
    assert retry_after_seconds({"retry-after": "30"}) == 30
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after_seconds({}) is None


def test_developer_comments_are_not_sent(tmp_path: Path) -> None:
    """init's starter templates begin with a note to whoever edits them; it went out in every
    email. Outlook's conditional comments are markup and stay; errors keep their line."""
    write(tmp_path, "c.html", '---\nsubject: "Hi"\n---\n'
                              "<!-- Sent by the activation loop.\n"
                              "     Variables: {{ name }} -->\n"
                              "<p>Hi</p><!--[if mso]><b>o</b><![endif]-->\n"
                              "<!-- one line -->{{ user.nope }}\n")
    t = tpl.Templates(tmp_path)
    with pytest.raises(tpl.TemplateProblem) as err:
        t.render("c", tpl.variables({}, {}, None, "w"))
    assert err.value.where == f"{tmp_path / 'c.html'}:7"
    write(tmp_path, "c.html", (tmp_path / "c.html").read_text().replace("{{ user.nope }}", ""))
    html = t.render("c", tpl.variables({}, {}, None, "w")).html
    assert html == "<p>Hi</p><!--[if mso]><b>o</b><![endif]-->\n\n"
    from skene_cdc.inspect.generate import starter_templates

    for name, text in starter_templates().items():
        write(tmp_path, name, text)
        if name.endswith(".html"):
            out = t.render(name[:-5], tpl.variables({"name": "Ann", "lastActivity": "today"},
                                                    {"name": "Ann"}, None, "w"))
            assert "<!--" not in out.html, name


def test_ago_and_date_read_timestamps_as_stored() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    user = {"last": (now - timedelta(days=8, hours=1)).isoformat(), "first": "2026-03-04",
            "gone": (now - timedelta(days=70)).isoformat()}
    got = tpl.variables({"a": "{{ user.last | ago }}", "d": "{{ user.first | date }}",
                         "g": "{{ user.gone | ago }}"}, user, None, "w")
    assert (got["a"], got["d"], got["g"]) == ("8 days ago", "March 4, 2026", "2 months ago")
