"""A real Django app for tests: examples/django_postgres, its schema built by its own
`manage.py migrate`, users created through its own signup view (which, like most signup forms,
leaves `first_name` empty unless given one)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT, cli_env

PROJECT = ROOT / "examples" / "django_postgres"

_DRIVER = """
import json, os, sys
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django
django.setup()
from django.core.management import call_command
from django.test import Client
if {migrate}:
    call_command("migrate", verbosity=0)
for who in json.loads({people!r}):
    c = Client()
    body = {{"username": who["username"], "email": who["username"] + "@x.test",
             "password": "pw-12345678"}}
    if who.get("first_name") is not None:
        body["first_name"] = who["first_name"]
    r = c.post("/signup", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    for title in who.get("notes", []):
        r = c.post("/notes", json.dumps({{"title": title}}), content_type="application/json")
        assert r.status_code == 201, r.content
"""


def django(url: str, *people: dict[str, object], migrate: bool = False) -> None:
    """Run the app against `url`: `manage.py migrate` first if asked, then each person signs up
    through the app's view (`first_name` only when given) and writes their `notes`."""
    code = textwrap.dedent(_DRIVER).format(root=str(PROJECT), migrate=migrate,
                                           people=json.dumps(list(people)))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   env=cli_env(url, PROJECT / "skene.yaml"))
