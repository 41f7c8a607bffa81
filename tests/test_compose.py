"""docker-compose.yml starts a runnable example end to end (issue 10, item 5). Docker does not
run here, so this checks what can be checked without it: the file parses, every path and
command it names exists in the repository, and the app's and the listener's command sequences,
run by hand as the containers would run them, work against a local PostgreSQL: a signup and a
first project become a welcome email at the SMTP server (Mailpit's place)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import ROOT, scalar
from tests.fakes.smtp_sink import SmtpSink
from tests.pgcluster import PgCluster, free_port
from tests.setup_helpers import empty_db

COMPOSE = ROOT / "docker-compose.yml"
MOUNT = "/app"  # the repository, mounted into the python containers


def services() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data["services"]


def host_path(container_path: str) -> Path:
    assert container_path.startswith(MOUNT), container_path
    return ROOT / container_path[len(MOUNT):].lstrip("/")


def steps(service: dict[str, Any]) -> list[list[str]]:
    """The service's `sh -c` command as its steps, without the `pip install`s."""
    command = service["command"]
    assert command[:2] == ["sh", "-c"], command
    out = []
    for part in command[2].split("&&"):
        argv = shlex.split(part)
        if argv[0] == "exec":
            argv = argv[1:]
        if argv[:2] != ["pip", "install"]:
            out.append(argv)
    return out


def test_compose_file_names_only_things_that_exist() -> None:
    svc = services()
    assert {"postgres", "redis", "mailpit", "app", "listener"} <= set(svc)
    for name in ("app", "listener"):
        s = svc[name]
        assert s["volumes"] == [f".:{MOUNT}"], s["volumes"]
        assert host_path(s["working_dir"]).is_dir(), s["working_dir"]
        for value in [*s.get("environment", {}).values(), *s["command"]]:
            for word in str(value).split():
                if word.startswith(MOUNT + "/"):
                    assert host_path(word.strip("'\"")).exists(), word
    env = svc["listener"]["environment"]
    assert host_path(env["SKENE_CONFIG"]).is_file()
    assert svc["listener"]["depends_on"]["app"] == {"condition": "service_healthy"}
    assert [argv[0] for argv in steps(svc["listener"])] == ["skene-cdc", "skene-cdc"]
    assert steps(svc["listener"])[-1] == ["skene-cdc", "listen"]


def test_the_app_and_listener_commands_work_on_a_local_postgres(pg: PgCluster,
                                                                tmp_path: Path) -> None:
    svc = services()
    app, listener = svc["app"], svc["listener"]
    with empty_db(pg) as url, SmtpSink() as smtp:
        port = free_port()
        [serve] = steps(app)
        assert serve[0] == "uvicorn"
        argv = [sys.executable, "-m", *serve]
        argv[argv.index("--port") + 1] = str(port)
        argv[argv.index("--host") + 1] = "127.0.0.1"
        env = {**os.environ, **{k: str(v) for k, v in app.get("environment", {}).items()},
               "DATABASE_URL": url}
        server = subprocess.Popen(argv, cwd=host_path(app["working_dir"]), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            health = app["healthcheck"]["test"]
            path = next(w for w in " ".join(health).split("'") if w.startswith("http"))
            deadline = time.monotonic() + 60
            while True:  # the compose healthcheck's URL, as Docker would poll it
                try:
                    if httpx.get(path.replace("http://localhost:8000", base)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, server.stderr
                time.sleep(0.2)
            ann = httpx.post(f"{base}/signup", json={"email": "ann@x.test", "name": "Ann"})
            assert ann.status_code == 201, ann.text
            # The listener's sequence, with `listen` run once instead of forever.
            lenv = {**os.environ,
                    **{k: str(v) for k, v in listener["environment"].items()},
                    "DATABASE_URL": url, "SMTP_URL": smtp.url(), "PYTHONPATH": str(ROOT),
                    "SKENE_CONFIG": str(host_path(listener["environment"]["SKENE_CONFIG"]))}
            for step in steps(listener):
                cmd = [sys.executable, "-m", "skene_cdc", *step[1:]]
                if step[-1] == "listen":
                    bob = httpx.post(f"{base}/signup", json={"email": "bob@x.test"}).json()
                    done = httpx.post(f"{base}/users/{bob['id']}/actions",
                                      json={"action_type": "first_project_created"})
                    assert done.status_code == 201
                    cmd.append("--once")
                ran = subprocess.run(cmd, cwd=host_path(listener["working_dir"]), env=lenv,
                                     capture_output=True, text=True, timeout=120)
                assert ran.returncode == 0, (step, ran.stdout, ran.stderr)
        finally:
            server.terminate()
            server.wait(30)
        assert scalar(url, "SELECT count(*) FROM skene.events WHERE external_id LIKE "
                           "'backfill:%'") == 0  # Ann did nothing before skene
        [mail] = smtp.messages
        assert mail["To"] == "bob@x.test" and mail["Subject"] == "Welcome aboard, there"


def test_the_compose_config_is_the_examples_but_for_smtp() -> None:
    example = ROOT / "examples" / "fastapi_postgres"
    plain = (example / "skene.yaml").read_text().splitlines()
    compose = [line for line in (example / "skene.compose.yaml").read_text().splitlines()
               if line not in plain]
    assert len(compose) == 5 and compose[-1].strip().startswith("provider: smtp"), compose
