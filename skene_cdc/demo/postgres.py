"""Throwaway PostgreSQL clusters: real servers on free ports with `wal_level=logical`, for the demo,
the tests and the benchmarks (one copy of this code; tests/pgcluster.py re-exports it).

Binaries come from the machine (pg_config, /usr/lib/postgresql/*/bin, PATH) or, when none are
installed, from the `pgserver` package (`pip install 'skene-cdc[embedded]'`), which bundles them.
initdb refuses to run as root, so as root the cluster runs as an unprivileged user."""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from skene_cdc.errors import PrerequisiteError

INSTALL_HINT = ("PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them "
                "(Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`), "
                "or `pip install 'skene-cdc[embedded]'` for bundled ones, or put their directory "
                "on PATH, or set SKENE_PG_BINDIR. `make test` and `make demo` install what they need.")

# Users a root process may run the server as, in order of preference. `postgres` exists wherever
# PostgreSQL is packaged; `nobody` exists everywhere and needs no account created.
_SERVICE_USERS = ("postgres", "nobody")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_server(d: str | Path) -> bool:
    return bool(d) and (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()


def local_pg_bindir() -> Path | None:
    """Server binaries installed on this machine (not the embedded ones)."""
    candidates: list[str] = []
    if os.environ.get("SKENE_PG_BINDIR"):
        candidates.append(os.environ["SKENE_PG_BINDIR"])
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += sorted(glob.glob("/usr/local/pgsql*/bin"), reverse=True)
    candidates += sorted(glob.glob("/opt/homebrew/opt/postgresql*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb") or "").parent))
    for c in candidates:
        if _has_server(c):
            return Path(c)
    return None


def embedded_pg_bindir() -> Path | None:
    """The binaries bundled in the `pgserver` package, if it is installed."""
    # Located, not imported: importing pgserver sets up its own server management (lock files,
    # system users); we only want its binaries, started the same way as installed ones.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    return d if _has_server(d) else None


def find_pg_bindir() -> Path | None:
    return local_pg_bindir() or embedded_pg_bindir()


def service_user() -> str | None:
    """Who runs initdb and the server: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in _SERVICE_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PrerequisiteError("running as root, and PostgreSQL refuses to run as root; no "
                            "unprivileged user (postgres, nobody) exists to run it as",
                            hint="Create one (`useradd postgres`) or run as a normal user")


def _as_user(user: str | None, cmd: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@dataclass
class PgCluster:
    bindir: Path
    datadir: Path
    sockdir: Path
    port: int
    user: str = "postgres"
    os_user: str | None = field(default=None, repr=False)

    @classmethod
    def start(cls, bindir: Path | None = None, *, extra: dict[str, str] | None = None,
              prefix: str = "skene-pg-") -> PgCluster:
        bindir = bindir or find_pg_bindir()
        if bindir is None:
            raise PrerequisiteError(INSTALL_HINT)
        os_user = service_user()
        root = Path(tempfile.mkdtemp(prefix=prefix))
        datadir, sockdir = root / "data", root / "sock"
        sockdir.mkdir()
        if os_user:
            _check_reachable(os_user, bindir)
            root.chmod(0o755)
            shutil.chown(root, os_user)
            shutil.chown(sockdir, os_user)
        cluster = cls(bindir, datadir, sockdir, free_port(), os_user=os_user)
        try:
            cluster._run([str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres",
                          "--auth=trust", "-E", "UTF8", "--locale=C", "-N"])
            settings = {"wal_level": "logical", "max_wal_senders": "10",
                        "max_replication_slots": "10", "fsync": "off",
                        "synchronous_commit": "off", "full_page_writes": "off",
                        **(extra or {})}
            conf = "\n".join(f"{k} = '{v}'" for k, v in settings.items())
            with open(datadir / "postgresql.auto.conf", "a") as f:
                f.write(conf + "\n")
            cluster.pg_ctl("start")
        except BaseException:
            # Half-started (initdb failed, Ctrl-C during start): leave nothing behind.
            cluster.stop("immediate")
            raise
        return cluster

    def _run(self, cmd: list[str]) -> None:
        proc = subprocess.run(_as_user(self.os_user, cmd), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise PrerequisiteError(f"{Path(cmd[0]).name} failed: {' / '.join(tail)}",
                                    hint=f"The server log is {self.datadir.parent / 'server.log'}")

    def pg_ctl(self, action: str, *args: str) -> None:
        opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.sockdir}")
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",
                   "-l", str(self.datadir.parent / "server.log"), "-o", opts, action, *args])

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    @property
    def root(self) -> Path:
        return self.datadir.parent

    def stop(self, mode: str = "fast") -> None:
        try:
            if (self.datadir / "postmaster.pid").exists():
                self.pg_ctl("stop", "-m", mode)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        p = self.root / "server.log"
        return p.read_text() if p.exists() else ""


def _check_reachable(user: str, bindir: Path) -> None:
    """As root the server runs as `user`, who must be able to execute the binaries: a venv under
    /root (mode 700) is not reachable, and we refuse to loosen /root's permissions ourselves."""
    probe = subprocess.run(_as_user(user, ["test", "-x", str(bindir / "postgres")]),
                           capture_output=True)
    if probe.returncode != 0:
        raise PrerequisiteError(
            f"the PostgreSQL binaries in {bindir} cannot be run by user {user!r}, who runs the "
            "server because PostgreSQL refuses to run as root",
            hint=f"Make the directories above {bindir} traversable (chmod o+x), install "
                 "PostgreSQL from your package manager, or run as a normal user")


def wait_for_port(port: int, timeout: float = 10) -> bool:
    """Has something started listening on 127.0.0.1:`port` within `timeout` seconds? (The test
    suite's redis servers wait with this too.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False
