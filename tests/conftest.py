"""Shared fixtures: a real `rtcli serve` process on a free port with a fresh data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from scripts import serve_process
from scripts.serve_process import ServeProcess
from scripts.serve_process import free_port as free_port  # the tests take it from here

API_KEY = "test-server-key-0123456789"

# Property tests and fuzzers draw new examples on every run, CI included (Hypothesis's own "ci"
# profile derandomizes: every run would replay the same examples). A failure prints the
# @reproduce_failure line that replays it exactly, and is kept in tests/hypothesis-db, a
# directory committed with the repository: every later run tries its examples first.
# RTCLI_HYPOTHESIS_SEED=N pins the generation to a seed instead (Hypothesis then bypasses the
# example database).
EXAMPLES = DirectoryBasedExampleDatabase(str(Path(__file__).parent / "hypothesis-db"))
for _profile in ("default", "ci"):
    settings.register_profile(_profile, database=EXAMPLES, derandomize=False, print_blob=True,
                              deadline=None if _profile == "ci" else 200,
                              suppress_health_check=[HealthCheck.too_slow] if _profile == "ci" else [])
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "default")


@pytest.hookimpl(tryfirst=True)  # before Hypothesis's plugin reads its options
def pytest_configure(config) -> None:
    pinned = os.environ.get("RTCLI_HYPOTHESIS_SEED")
    if pinned and config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = pinned


def pytest_report_header(config) -> str:
    pinned = config.getoption("hypothesis_seed", None)
    if pinned is not None:
        return f"hypothesis: seed {pinned} (pinned), profile {settings.get_current_profile_name()}"
    return (f"hypothesis: new examples this run, profile {settings.get_current_profile_name()}; failures are kept "
            "in tests/hypothesis-db (commit them) and print a @reproduce_failure line")


@dataclass
class Server(ServeProcess):
    """A running `rtcli serve` process (see scripts/serve_process.py). ``endpoint`` ends with /v1."""

    data_dir: Path
    api_key: str
    project: str = "default"
    database: str | None = None  # postgresql://… when the server runs on PostgreSQL

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime?project={self.project}"

    def admin(self) -> httpx.Client:
        """An httpx client that acts as the server (API key)."""
        return httpx.Client(
            base_url=self.endpoint,
            headers={"X-Appwrite-Project": self.project, "X-Appwrite-Key": self.api_key},
            timeout=10,
        )

    def guest(self) -> httpx.Client:
        return httpx.Client(base_url=self.endpoint, headers={"X-Appwrite-Project": self.project}, timeout=10)

    def rss_kb(self) -> int:
        """The server process's resident memory, in KB (from /proc)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def cli_env(self, config: Path | None = None, key: bool = True, columns: int | None = None) -> dict:
        """The environment of a CLI run against this server (with its API key unless ``key`` is
        False). With ``config``: its own config dir, no profile from outside, no colours, and
        ``columns`` wide tables if given."""
        env = dict(os.environ)
        env.update(RTCLI_ENDPOINT=self.endpoint, RTCLI_PROJECT=self.project, RTCLI_KEY=self.api_key)
        if not key:
            env.pop("RTCLI_KEY")
        if config is not None:
            env.pop("RTCLI_PROFILE", None)
            env.update(RTCLI_CONFIG_DIR=str(config), NO_COLOR="1")
            if columns:
                env["COLUMNS"] = str(columns)  # tables wide enough that IDs are not folded
        return env


def start_server(data_dir: Path, port: int | None = None, extra: list[str] | None = None,
                 api_key: str | None = API_KEY, timeout: float = 15) -> Server:
    """Start `python -m rtcli serve` and wait until /v1/health answers; its output goes to
    ``server-PORT.log`` beside the data dir, and is in the error when it fails to start. With
    ``api_key=None`` the server makes its own (kept in the data dir), as with a bare `rtcli serve`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    started = serve_process.start(data_dir, port=port, api_key=api_key, extra=extra or (), timeout=timeout)
    database = None
    if extra and "--database" in extra:
        database = extra[extra.index("--database") + 1]
    return Server(started.proc, started.port, started.log_path, data_dir=data_dir,
                  api_key=api_key or (data_dir / "api-key").read_text().strip(), database=database)


@pytest.fixture
def server(tmp_path):
    """A fresh server per test (its own port and SQLite file)."""
    srv = start_server(tmp_path / "data")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for a whole test module, for tests that do not depend on a clean database."""
    srv = start_server(tmp_path_factory.mktemp("shared") / "data")
    yield srv
    srv.stop()
