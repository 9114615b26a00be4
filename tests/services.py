"""PostgreSQL and Redis for the tests that need them: reachable here, skip; unreachable, skip
with the reason, except in CI (CI=true), where they must run and fail loudly instead."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from contextlib import contextmanager

import pytest

PG_HOST, PG_PORT, PG_USER, PG_DB = "127.0.0.1", 5432, "postgres", "test"
REDIS_URL = "redis://127.0.0.1:6379"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def in_ci() -> bool:
    """True under CI: the CI variable set to any true value (``true``, ``1``, ``yes``, ``on``), as
    CI systems set it. Every CI-only rule of the suite asks this one function."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes", "on"}


def unavailable(reason: str, what: str, remedy: str = "") -> None:
    """A test's requirement is missing: skip here; fail under CI, where it must run."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: {what} must run{'; ' + remedy if remedy else ''})", pytrace=False)
    pytest.skip(reason)


def require(service: str) -> None:
    host, port = (PG_HOST, PG_PORT) if service == "postgres" else ("127.0.0.1", 6379)
    if not _reachable(host, port):
        unavailable(f"{service} is not reachable at {host}:{port} (these tests run in CI)", f"the {service} tests")


def _psql(sql: str, db: str = PG_DB) -> None:
    subprocess.run(["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", db, "-q", "-c", sql],
                   check=True, capture_output=True, timeout=30)


@contextmanager
def pg_database():
    """A fresh PostgreSQL database for one server or cluster; dropped afterwards."""
    require("postgres")
    name = "rtcli_" + secrets.token_hex(5)
    _psql(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        for _ in range(3):
            try:
                _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.5)


def pg_query(dsn: str, sql: str) -> str:
    """Run a query with psql and return its unaligned output (for assertions on raw storage)."""
    db = dsn.rsplit("/", 1)[-1]
    out = subprocess.run(["psql", "-h", PG_HOST, "-U", PG_USER, "-d", db, "-At", "-c", sql],
                         check=True, capture_output=True, text=True, timeout=30)
    return out.stdout


@contextmanager
def pg_holding(dsn: str, sql: str):
    """Another client (psql) that has run ``sql`` in a transaction it keeps open for the block,
    holding whatever locks ``sql`` took; it commits when the block ends."""
    db = dsn.rsplit("/", 1)[-1]
    psql = subprocess.Popen(["psql", "-h", PG_HOST, "-U", PG_USER, "-d", db, "-q", "-v", "ON_ERROR_STOP=1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert psql.stdin is not None and psql.stdout is not None
    try:
        psql.stdin.write(f"BEGIN;\n{sql};\n\\echo held\n")
        psql.stdin.flush()
        assert psql.stdout.readline().strip() == "held", f"psql could not run {sql!r}"
        yield
        psql.stdin.write("COMMIT;\n")
        psql.stdin.close()
        assert psql.wait(10) == 0
    finally:
        if psql.poll() is None:
            psql.kill()
            psql.wait(10)


class PrivateRedis:
    """A Redis server of our own on a free port, which a test may stop and start at will."""

    def __init__(self, port: int, password: str | None = None) -> None:
        self.port = port
        self.password = password
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{':' + self.password + '@' if self.password else ''}127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no",
                                      *(["--requirepass", self.password] if self.password else [])],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
