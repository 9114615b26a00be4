"""`rtcli monitor` with stdout no terminal (a file, a pipe): a one-line refusal and exit 2 at
once, instead of a screen's escape codes written into the file by a TUI that runs until killed."""

from __future__ import annotations

import shlex
import subprocess
import time

from tests.test_cli import rtcli_cmd

REFUSAL = ("error: rtcli monitor needs a terminal; for a file or a pipe use `rtcli subscribe` "
           "(with --json for one JSON object per line)\n")


def test_monitor_refuses_a_pipe(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config")
    started = time.monotonic()
    r = subprocess.run([*rtcli_cmd(), "monitor", "rows"], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", REFUSAL)
    assert time.monotonic() - started < 10


def test_monitor_refuses_a_file(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config")
    out = tmp_path / "monitor.out"
    r = subprocess.run(["bash", "-c", f"{shlex.join([*rtcli_cmd(), 'monitor'])} > {shlex.quote(str(out))}"],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert (r.returncode, r.stderr) == (2, REFUSAL)
    assert out.read_text() == ""
