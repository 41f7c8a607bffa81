"""Throwaway PostgreSQL clusters and redis-servers for tests and benchmarks: real servers on free
ports, `wal_level=logical`, started as the `postgres` user when we are root (initdb refuses root)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = ("PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them "
                "(Debian/Ubuntu: `apt-get install postgresql`), or put their directory on PATH, "
                "or set SKENE_PG_BINDIR. `make test` installs them for you.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_pg_bindir() -> Path | None:
    candidates: list[str] = []
    if os.environ.get("SKENE_PG_BINDIR"):
        candidates.append(os.environ["SKENE_PG_BINDIR"])
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += sorted(glob.glob("/usr/local/pgsql*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb") or "").parent))
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PgCluster:
    bindir: Path
    datadir: Path
    sockdir: Path
    port: int
    user: str = "postgres"

    @classmethod
    def start(cls, bindir: Path | None = None, *, extra: dict[str, str] | None = None) -> PgCluster:
        bindir = bindir or find_pg_bindir()
        if bindir is None:
            raise RuntimeError(INSTALL_HINT)
        root = Path(tempfile.mkdtemp(prefix="skene-pg-"))
        datadir, sockdir = root / "data", root / "sock"
        sockdir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            shutil.chown(sockdir, "postgres")
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8", "--locale=C", "-N"]),
                       check=True, capture_output=True)
        cluster = cls(bindir, datadir, sockdir, free_port())
        settings = {"wal_level": "logical", "max_wal_senders": "10",
                    "max_replication_slots": "10", "fsync": "off",
                    "synchronous_commit": "off", "full_page_writes": "off",
                    **(extra or {})}
        conf = "\n".join(f"{k} = '{v}'" for k, v in settings.items())
        with open(datadir / "postgresql.auto.conf", "a") as f:
            f.write(conf + "\n")
        cluster.pg_ctl("start")
        return cluster

    def pg_ctl(self, action: str, *args: str) -> None:
        opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.sockdir}")
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",
               "-l", str(self.datadir.parent / "server.log"), "-o", opts, action, *args]
        subprocess.run(_as_postgres(cmd), check=True, capture_output=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def stop(self, mode: str = "fast") -> None:
        try:
            self.pg_ctl("stop", "-m", mode)
        finally:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)

    def log(self) -> str:
        p = self.datadir.parent / "server.log"
        return p.read_text() if p.exists() else ""


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes]

    @classmethod
    def start(cls, port: int | None = None) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not found: `apt-get install redis-server` "
                               "(`make test` installs it for you)")
        port = port or free_port()
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return cls(port, proc)
            except OSError:
                time.sleep(0.05)
        proc.kill()
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
