"""Throwaway PostgreSQL clusters and redis-servers for tests and benchmarks. The cluster code lives
in the package (skene_cdc/demo/postgres.py, which `skene-cdc demo` uses too); this re-exports it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from skene_cdc.demo.postgres import (
    INSTALL_HINT,
    PgCluster,
    find_pg_bindir,
    free_port,
    wait_for_port,
)

__all__ = ["INSTALL_HINT", "PgCluster", "RedisServer", "find_pg_bindir", "free_port"]


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
        if wait_for_port(port):
            return cls(port, proc)
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
