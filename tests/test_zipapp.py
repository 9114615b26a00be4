"""The one-file build: scripts/build_zipapp.py makes a zipapp that serves, subscribes and writes
on a machine with only Python. It runs here under the interpreter of a fresh virtualenv with no
packages at all (not the test interpreter, which has every dependency installed and would hide one
missing from the zipapp), from an empty directory with its own SHIV_ROOT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pyz(tmp_path_factory) -> Path:
    pytest.importorskip("shiv")
    out = tmp_path_factory.mktemp("zipapp") / "rtcli.pyz"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_zipapp.py"), "-o", str(out)], check=True,
                   capture_output=True, timeout=600)
    return out


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """A virtualenv's interpreter with nothing installed (no pip either): a machine with only Python."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=120)
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import httpx"], capture_output=True, text=True, timeout=30)
    assert probe.returncode != 0, "the bare virtualenv can import httpx: it is not bare"
    return str(python)


def test_zipapp_serves_subscribes_and_writes(pyz, bare_python, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SHIV_ROOT": str(tmp_path / "shiv"),
           "RTCLI_CONFIG_DIR": str(tmp_path / "config")}
    port = free_port()
    run = lambda *args, **kw: subprocess.run([bare_python, str(pyz), *args], cwd=tmp_path, env=env,  # noqa: E731
                                             capture_output=True, text=True, timeout=60, **kw)
    assert "serve" in run("--help").stdout
    server = subprocess.Popen([bare_python, str(pyz), "serve", "--port", str(port), "--data-dir",
                               str(tmp_path / "data"), "--api-key", "zipkey"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        endpoint = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 60  # the first start unpacks the zipapp
        while True:
            try:
                if httpx.get(f"{endpoint}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, server.stdout.read().decode()
            time.sleep(0.2)
        cli = dict(env, RTCLI_ENDPOINT=endpoint, RTCLI_KEY="zipkey")
        for args in (["db", "create", "z", "--name", "Z"],
                     ["table", "create", "--db", "z", "t", "--name", "T", "-p", 'read("any")']):
            r = subprocess.run([bare_python, str(pyz), *args], cwd=tmp_path, env=cli, capture_output=True,
                               text=True, timeout=60)
            assert r.returncode == 0, r.stderr
        sub = subprocess.Popen([bare_python, str(pyz), "subscribe", "tablesdb.z.tables.t.rows", "--json"],
                               cwd=tmp_path, env=cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while "subscribed" not in (line := sub.stderr.readline()):
                assert time.monotonic() < deadline and line, "the subscriber never subscribed"
            r = subprocess.run([bare_python, str(pyz), "row", "create", "--db", "z", "--table", "t", "text=hi"],
                               cwd=tmp_path, env=cli, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            event = json.loads(sub.stdout.readline())
            assert event["payload"]["text"] == "hi" and "tablesdb.*.tables.*.rows.*.create" in event["events"]
        finally:
            sub.terminate()
            sub.wait(10)
    finally:
        server.terminate()
        server.wait(10)
