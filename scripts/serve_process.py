"""Start `rtcli serve` in a subprocess on a free port and wait until it answers ``/v1/health``.

The one starter of the test fixtures (tests/conftest.py) and of the benchmarks
(scripts/benchmarks/harness.py, scripts/bench_monitor.py). Standard library only: the benchmarks'
load client imports it too, and it must not weigh on what it measures.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SERVE = (sys.executable, "-m", "rtcli", "serve")

# The readiness probe goes straight to 127.0.0.1: an http_proxy in the environment must not catch it.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServeProcess:
    """A server process: its port and the file that holds its stdout and stderr."""

    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: str = "term", timeout: float = 10) -> int:
        """SIGTERM (or SIGKILL with ``sig="kill"``: a crash) and the exit code. A process still
        there after ``timeout`` seconds is killed, so a stop never leaves a server behind."""
        if self.proc.poll() is None:
            self.proc.kill() if sig == "kill" else self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout)


def start(data_dir: Path, *, port: int | None = None, api_key: str | None = None, extra: Sequence[str] = (),
          log_dir: Path | None = None, command: Sequence[str] = SERVE, cwd: Path | None = None,
          env: Mapping[str, str] | None = None, preexec_fn: Callable[[], object] | None = None,
          timeout: float = 15) -> ServeProcess:
    """``command --port P --data-dir DATA_DIR [--api-key KEY] EXTRA…``, its output appended to
    ``log_dir/server-P.log`` (``log_dir`` defaults to the data dir's parent), once
    ``/v1/health`` answers 200. Raises RuntimeError with the server's log when it exits or is
    not ready within ``timeout`` seconds (then it is killed)."""
    port = port or free_port()
    log_dir = log_dir or data_dir.parent
    log_dir.mkdir(parents=True, exist_ok=True)
    cmd = [*command, "--port", str(port), "--data-dir", str(data_dir), *(["--api-key", api_key] if api_key else []),
           *extra]
    with open(log_dir / f"server-{port}.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env, preexec_fn=preexec_fn)
    server = ServeProcess(proc, port, log_dir / f"server-{port}.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rtcli serve exited with {proc.returncode}:\n{server.log()}")
        try:
            with _DIRECT.open(f"http://127.0.0.1:{port}/v1/health", timeout=0.5) as r:
                if r.status == 200:
                    return server
        except (OSError, http.client.HTTPException):  # refused while it starts, or an error status
            pass
        time.sleep(0.05)
    server.stop("kill")
    raise RuntimeError(f"rtcli serve did not become ready in {timeout}s:\n{server.log()}")
