"""`skene-cdc suppress add|remove|list`: manual suppression (SMTP has no bounce webhook), as a
user runs it; bad input is one paragraph and exit status 2, changing nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compliance_support import compliance_config, suppressions
from tests.conftest import run_cli
from tests.emailkit import add_user, delivery, enqueue, sender
from tests.fakes.smtp_sink import SmtpSink


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        monkeypatch.setenv("SMTP_URL", s.url())
        yield s


def test_add_list_remove(db_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    cfg = compliance_config(tmp_path)
    path = tmp_path / "skene.yaml"
    add_user(db_url, 1, "ann@x.test", "Ann")
    add_user(db_url, 2, "bo@x.test", "Bo")
    pending = enqueue(db_url, "1", loop="digest", template="news", provider="smtp")

    out = run_cli("suppress", "add", "Ann@X.test", "--reason", "bounce", "--note", "550 5.1.1",
                  url=db_url, config_path=path).stdout
    assert "suppressed 1 of 1 (all growth email)" in out
    out = run_cli("suppress", "add", "ann@x.test", "--user", "2", "--loop", "tips",
                  url=db_url, config_path=path).stdout
    assert "suppressed 2 of 2 (loop:tips)" in out
    again = run_cli("suppress", "add", "ann@x.test", url=db_url, config_path=path).stdout
    assert "already were" in again
    assert [(s["address"], s["user_id"], s["scope"], s["reason"]) for s in suppressions(db_url)] \
        == [("ann@x.test", None, "all", "bounce"), ("ann@x.test", None, "loop:tips", "manual"),
            (None, "2", "loop:tips", "manual")]

    listed = run_cli("suppress", "list", "--json", url=db_url, config_path=path).stdout
    assert [json.loads(line)["subject"] for line in listed.splitlines()] == \
        ["user 2", "ann@x.test", "ann@x.test"]
    human = run_cli("suppress", "list", url=db_url, config_path=path).stdout
    assert "550 5.1.1" in human and "bounce" in human

    # The sender honours it at the claim: the pending email is never sent.
    assert sender(db_url, cfg).drain() == 0
    assert delivery(db_url, pending)["state"] == "suppressed" and sink.messages == []

    out = run_cli("suppress", "remove", "ann@x.test", url=db_url, config_path=path).stdout
    assert "lifted 2 suppression(s)" in out
    assert run_cli("suppress", "list", url=db_url, config_path=path).stdout.count("ann@") == 0
    assert run_cli("suppress", "list", "--all", url=db_url,
                   config_path=path).stdout.count("lifted") == 2
    later = enqueue(db_url, "1", loop="digest", template="news", provider="smtp", episode="2")
    assert sender(db_url, cfg).drain() == 1 and delivery(db_url, later)["state"] == "sent"


@pytest.mark.parametrize("args, says", [
    (("add",), "name at least one address"),
    (("add", "ann@x.test, bo@x.test"), "not an email address"),
    (("add", "--user", "1", "--loop", "nope"), "is not a loop"),
    (("remove", "not-an-address"), "not an email address"),
])
def test_bad_input_is_one_paragraph_and_changes_nothing(db_url: str, tmp_path: Path,
                                                        args: tuple[str, ...], says: str) -> None:
    compliance_config(tmp_path)
    proc = run_cli("suppress", *args, url=db_url, config_path=tmp_path / "skene.yaml",
                   check=False)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert suppressions(db_url) == []
