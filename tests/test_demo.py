"""`skene-cdc demo` as a newcomer runs it: a subprocess, no arguments, no services, no env."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pgcluster import INSTALL_HINT, find_pg_bindir

ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.skipif(find_pg_bindir() is None, reason=INSTALL_HINT)


def demo_env() -> dict[str, str]:
    # Nothing from the developer's shell: the demo must need no DATABASE_URL, no config.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SKENE_", "DATABASE_URL", "RESEND_", "SMTP_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "100"
    return env


def run_demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skene_cdc", "demo", *args], cwd=cwd,
                          capture_output=True, text=True, env=demo_env(), timeout=180)


def created_paths(out: str) -> tuple[Path, Path, int]:
    pg = re.search(r"on 127\.0\.0\.1:(\d+) .*data in (\S+)", out)
    work = re.search(r"templates \(.*\) to (\S+)", out)
    assert pg and work, out
    return Path(pg.group(2)), Path(work.group(1)), int(pg.group(1))


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    proc = run_demo(cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, f"{out}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    datadir, workdir, port = created_paths(out)
    # What a newcomer should see: the month simulated, capture working, the next commands.
    assert re.search(r"before skene: \d+ signups, \d+ actions", out)
    assert re.search(r"\d+ signups and \d+ actions over 2\d days", out)
    counts = re.search(r"Captured (\d+) events .* (\d+) users: (\d+) active this week, "
                       r"(\d+) dormant", out)
    assert counts, out
    events, users, active, dormant = map(int, counts.groups())
    assert events > users > 0 and active > 0 and dormant > 0
    # The emails, as the console provider sent them, in the section of the phase that sent them.
    replay, retention, comeback = (out.split("\n== ")[i] for i in (1, 2, 3))
    welcomes = re.findall(r"^   \S (\S+@example\.test) +Welcome aboard, (\w+)", replay, re.M)
    assert welcomes and all(addr.startswith(name.lower() + ".") for addr, name in welcomes), replay
    re_engaged = re.findall(r"^   \S (\S+@example\.test) +(.*)$", retention, re.M)
    assert len(re_engaged) == dormant, retention
    assert all("we kept your projects warm" in subj or subj.startswith("Still there")
               for _, subj in re_engaged), retention
    # Each names the user's last activity (from skene.users), not a blank.
    assert len(re.findall(r"(last thing you did was|last step was) \w+", retention)) == dormant
    assert "Welcome aboard" not in retention and "@example.test" not in comeback
    assert re.search(r"retention records 3 conversions", comeback)
    assert "0 new emails" in out.split("\n== ")[4]
    # The funnel table (view skene.loop_funnel) agrees with the emails shown.
    funnel = {m[0]: m[1:] for m in re.findall(r"^\S (\w+) +\S +(\d+) +\S +(\d+) +\S +(\d+)",
                                              out, re.M)}
    assert len(set(welcomes)) == len(welcomes)
    assert int(funnel["activation"][1]) == int(funnel["activation"][2]) == len(welcomes)
    assert int(funnel["activation"][0]) > len(welcomes)  # signups that never acted: no email
    assert funnel["retention"] == (str(dormant), str(dormant), "3")
    for cmd in ("skene-cdc init", "skene-cdc migrate", "skene-cdc listen"):
        assert cmd in out
    # Cleaned up: the cluster is stopped and its files, like the demo's own, are gone; the
    # working directory is left as it was.
    assert "Cleaned up" in out
    assert not datadir.exists() and not workdir.exists()
    assert not port_open(port)
    assert list(tmp_path.iterdir()) == []


def test_demo_interrupted_cleans_up(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) while the demo database is up: the cluster and files are removed."""
    proc = subprocess.Popen([sys.executable, "-m", "skene_cdc", "demo", "--keep"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=demo_env())
    assert proc.stdout is not None
    out = ""
    try:
        for line in proc.stdout:
            out += line
            if "stays up until Ctrl-C" in line:
                break
        datadir, workdir, port = created_paths(out)
        assert datadir.exists() and port_open(port)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out += rest
    assert proc.returncode == 130, f"{out}\n{err}"
    assert "Cleaned up" in out
    assert not datadir.exists() and not workdir.exists()
    assert not port_open(port)


def test_embedded_postgres_from_pgserver_runs_a_logical_cluster() -> None:
    """The fallback for machines without PostgreSQL: pgserver's bundled binaries, started the
    same way (as an unprivileged user when root), with wal_level=logical."""
    import psycopg

    from skene_cdc.demo.postgres import PgCluster, embedded_pg_bindir

    bindir = embedded_pg_bindir()
    if bindir is None:
        pytest.skip("pgserver is not installed (pip install 'skene-cdc[embedded]')")
    cluster = PgCluster.start(bindir)
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
    finally:
        cluster.stop("immediate")
    assert not cluster.root.exists()
