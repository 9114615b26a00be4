"""Real-SDK compatibility: drive the official Appwrite SDKs from npm against `rtcli serve`.

Each test runs one Node driver from tests/compat/ (see tests/compat/README.md) against a fresh
server. The driver uses the browser SDK (`appwrite` 27.0.0, with `ws` as WebSocket) as a
guest realtime subscriber and `node-appwrite` 27.1.0 with the API key for REST writes, asserts
with node:assert/strict and prints one JSON summary line.

Needs `node` (>= 20) and `npm ci --prefix tests/compat`. Without them the tests are skipped,
except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

COMPAT_DIR = Path(__file__).resolve().parent / "compat"
DRIVER_TIMEOUT = 60  # seconds, per driver process

DRIVERS = {
    "rows_realtime": "create/update/upsert/increment/decrement/delete reach each matching subscription once",
    "queries_realtime": "realtime queries filter per subscription; update() and unsubscribe() change delivery",
    "permissions_realtime": "tables without guest read and rowSecurity rows gate delivery to a guest",
    "rest_roundtrip": "node-appwrite TablesDB REST round trips, bulk createRows events, error envelope",
    "unknown_project": "unknown project: onError gets 1008, close 1008, no reconnect",
    "deprecated_subscribe": "the deprecated client.subscribe path receives row events",
    "reconnect": "after a dropped connection the SDK re-subscribes with its original ids and delivery resumes",
}


def _unavailable(reason: str):
    """Skip locally; fail under CI, where the SDKs are installed with `npm ci --prefix tests/compat`."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the SDK compatibility suite must run; "
                    f"install with `npm ci --prefix tests/compat`)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_bin() -> str:
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed (needed for the SDK compatibility suite)")
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        _unavailable(f"could not determine the node version: {exc}")
    if major < 20:
        _unavailable(f"node {version} is too old; the SDK compatibility suite needs node >= 20")
    for pkg in ("appwrite", "node-appwrite", "ws"):
        if not (COMPAT_DIR / "node_modules" / pkg / "package.json").is_file():
            _unavailable(f"tests/compat/node_modules/{pkg} is missing; run `npm ci --prefix tests/compat`")
    return node


def _tail(text: str, lines: int) -> str:
    parts = text.splitlines()
    cut = "" if len(parts) <= lines else f"[... {len(parts) - lines} earlier lines ...]\n"
    return cut + "\n".join(parts[-lines:])


@pytest.mark.sdk
@pytest.mark.parametrize("driver", list(DRIVERS), ids=list(DRIVERS))
def test_sdk_compat(node_bin, server, driver):
    script = COMPAT_DIR / f"{driver}.mjs"
    assert script.is_file(), f"missing driver {script}"
    env = server.cli_env()
    env.pop("NODE_OPTIONS", None)
    try:
        proc = subprocess.run([node_bin, str(script)], cwd=COMPAT_DIR, env=env, capture_output=True,
                              text=True, timeout=DRIVER_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        pytest.fail(f"{driver} did not finish within {DRIVER_TIMEOUT}s\n--- stdout ---\n{_tail(out, 50)}\n"
                    f"--- stderr ---\n{_tail(err, 200)}\n--- server log ---\n{_tail(server.log(), 200)}",
                    pytrace=False)

    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = None
    if lines:
        try:
            summary = json.loads(lines[-1])
        except json.JSONDecodeError:
            summary = None
    ok = proc.returncode == 0 and isinstance(summary, dict) and summary.get("ok") is True
    if not ok:
        pytest.fail(
            f"SDK driver {driver} failed ({DRIVERS[driver]}): exit code {proc.returncode}, "
            f"summary {lines[-1] if lines else '<none>'}\n"
            f"--- driver stderr ---\n{_tail(proc.stderr, 300)}\n"
            f"--- driver stdout ---\n{_tail(proc.stdout, 50)}\n"
            f"--- server log ---\n{_tail(server.log(), 200)}",
            pytrace=False,
        )
    assert summary["driver"] == driver
    assert isinstance(summary.get("checks"), int) and summary["checks"] > 0, summary
