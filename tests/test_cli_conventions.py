"""The conventions people expect of a command line, through the real entry point: shell
completion, -V, help without artefacts, one unit for speeds, the password rule before the
password, and the server's log options. Terminal-only behaviour runs under a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import start_server
from tests.test_cli import offline_env, rtcli_cmd, run  # noqa: F401  (fixture)


class Terminal:
    """A command with stdin, stdout and stderr on a pseudo-terminal."""

    def __init__(self, argv: list[str], env: dict) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([*rtcli_cmd(), *argv], stdin=slave, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        self.text = ""
        self.seen = 0

    def read_until(self, needle: str, timeout: float = 30) -> str:
        """Wait for ``needle`` after what earlier calls matched."""
        deadline = time.monotonic() + timeout
        while needle not in self.text[self.seen:]:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"{needle!r} not seen; got {self.text!r}")
        self.seen = self.text.index(needle, self.seen) + len(needle)
        return self.text

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the other side is closed: the process ended
            return False
        self.text += chunk.decode("utf-8", "replace")
        return bool(chunk)

    def write(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0.1):
            pass
        os.close(self.master)
        return self.proc.wait(timeout=5)


# --- completion, version, help -------------------------------------------------------------------


def test_shell_completion(offline_env):  # noqa: F811
    # The shell is found among the parent processes, as when a person types it in bash.
    r = subprocess.run(["bash", "-c", f"{' '.join(rtcli_cmd())} --show-completion; exit $?"], env=offline_env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "complete -o default -F _rtcli_completion rtcli" in r.stdout, r.stderr
    r = subprocess.run(rtcli_cmd(), env={**offline_env, "_RTCLI_COMPLETE": "complete_bash", "COMP_WORDS": "rtcli ro",
                                         "COMP_CWORD": "1"}, capture_output=True, text=True, timeout=30)
    assert r.stdout.split() == ["row"]
    assert "--install-completion" in run("--help", env=offline_env).stdout


def test_short_version(offline_env):  # noqa: F811
    from rtcli import __version__

    assert run("-V", env=offline_env).stdout == run("--version", env=offline_env).stdout == f"rtcli {__version__}\n"


@pytest.mark.parametrize("argv, usage", [
    (["explain"], "Usage: rtcli explain [OPTIONS] EVENT_CURSOR"),
    (["subscribe"], "Usage: rtcli subscribe [OPTIONS] CHANNEL..."),
    (["file", "download"], "Usage: rtcli file download [OPTIONS] BUCKET FILE_ID"),
    (["row", "update"], "Usage: rtcli row update [OPTIONS] ROW_ID [KEY=VALUE]..."),
    (["row", "create"], "Usage: rtcli row create [OPTIONS] [ROW_ID] [KEY=VALUE]..."),
    # Required, though the hidden --id may give them instead: the usage shows what people type.
    (["row", "get"], "Usage: rtcli row get [OPTIONS] ROW_ID"),
    (["row", "delete"], "Usage: rtcli row delete [OPTIONS] ROW_ID"),
    (["row", "increment"], "Usage: rtcli row increment [OPTIONS] ROW_ID"),
    (["db", "create"], "Usage: rtcli db create [OPTIONS] ID"),
    (["db", "get"], "Usage: rtcli db get [OPTIONS] ID"),
    (["table", "create"], "Usage: rtcli table create [OPTIONS] ID"),
    (["table", "delete"], "Usage: rtcli table delete [OPTIONS] ID"),
])
def test_usage_lines_read_as_click_writes_them(offline_env, argv, usage):  # noqa: F811
    r = run(*argv, "--help", env=offline_env)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == usage


WALK = r'''
import io, re, sys, contextlib
import typer
from rtcli.cli.main import app
root = typer.main.get_command(app)
bad = []
def walk(cmd, path):
    if hasattr(cmd, "commands"):  # a group
        for name, sub in cmd.commands.items():
            walk(sub, path + [name])
        return
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            root.main(args=[*path, "--help"], prog_name="rtcli", standalone_mode=False)
        except SystemExit:
            pass
    text = out.getvalue()
    if re.search(r"<[a-z]+(\[[a-z]+\])?>", text) or "{" in text.splitlines()[0]:
        bad.append(" ".join(path))
    print(" ".join(path))
walk(root, [])
print("BAD:", bad, file=sys.stderr)
'''


def test_no_help_text_has_type_labels_or_braces():
    """Every command's help, rendered by the app itself: no `<str>`, `<list[str]>`, `{NAME}`."""
    r = subprocess.run([sys.executable, "-c", WALK], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) > 40  # every command was rendered
    assert r.stderr.strip() == "BAD: []"


def test_serve_help_names_values_as_the_other_commands_do(offline_env):  # noqa: F811
    r = run("serve", "--help", env=offline_env)
    shown = dict(re.findall(r"^\s+(--[a-z-]+) ([A-Z]+)\b", r.stdout, re.M))
    assert not set(shown.values()) & {"TEXT", "INTEGER", "FLOAT", "PATH"}, shown
    assert [shown[o] for o in ("--host", "--port", "--database", "--data-dir", "--api-key", "--log-poll")] == [
        "HOST", "N", "URL", "DIR", "KEY", "S"]


def test_https_to_a_plain_http_server_says_to_use_http(shared_server, tmp_path):
    plain = shared_server.endpoint
    https = plain.replace("http://", "https://", 1)
    r = run("--endpoint", https, "db", "list", env=shared_server.cli_env(tmp_path / "config"))
    assert (r.returncode, r.stdout, r.stderr) == (
        1, "", f"error: cannot reach {https}: the server there speaks plain HTTP, not HTTPS; use {plain} "
               "(--endpoint / RTCLI_ENDPOINT)\n")


# --- terminal-only behaviour -------------------------------------------------------------------


def test_upload_speed_is_in_mib_per_second_in_bar_and_summary(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config")
    env.pop("NO_COLOR", None)
    with shared_server.admin() as admin:
        assert admin.post("/storage/buckets", json={"bucketId": "speeds", "name": "s"}).status_code in (201, 409)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(12 * 1024 * 1024))
    term = Terminal(["file", "upload", "speeds", str(path), "--id", "unique()"], env)
    assert term.wait() == 0, term.text
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", term.text)
    bar_speeds = re.findall(r"(\d+(?:\.\d+)? (?:[KMG]i?B|B)/s)", text)
    assert bar_speeds and all(re.fullmatch(r"\d+(\.\d+)? ([KMG]iB|B)/s", s) for s in bar_speeds), bar_speeds
    assert not re.search(r"\d (kB|MB|GB)/s", text)
    assert re.search(r"uploaded big\.bin: 12\.0 MiB in \d+\.\d\d s, \d+(\.\d+)? ([KMG]iB|B)/s", text)


def test_password_rule_is_shown_before_it_is_typed(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config", key=False)
    email = f"p{os.urandom(3).hex()}@example.com"
    term = Terminal(["signup", email], env)
    term.read_until("Password (8 to 256 characters): ")
    term.write("short\n")
    term.read_until("Error: The value you entered was invalid.")  # click says no more of a hidden value
    term.read_until("Password (8 to 256 characters): ", timeout=10)
    term.write("long enough\n")
    term.read_until("Repeat for confirmation: ")
    term.write("long enough\n")
    assert term.wait() == 0, term.text
    assert email in term.text


def test_short_password_on_a_pipe_is_a_usage_error(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config", key=False)
    r = subprocess.run([*rtcli_cmd(), "signup", "short@example.com"], input="short\n", env=env,
                       capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", "error: the password must be 8 to 256 characters long, not 5\n")


# --- serve's logs ----------------------------------------------------------------------------------


def test_access_log_and_log_level(tmp_path):
    quiet = start_server(tmp_path / "quiet" / "data")
    loud = start_server(tmp_path / "loud" / "data", extra=["--access-log", "--log-level", "warning"])
    try:
        for srv in (quiet, loud):
            assert httpx.get(f"{srv.endpoint}/health?probe=1", timeout=5).status_code == 200
        time.sleep(0.5)
        assert '"GET /v1/health?probe=1 HTTP/1.1" 200' in loud.log()
        assert "GET /v1/health" not in quiet.log()
        assert " INFO rtcli" not in loud.log()  # --log-level warning: rtcli's INFO lines are gone
    finally:
        quiet.stop()
        loud.stop()
    r = run("serve", "--log-level", "loud", env={k: v for k, v in os.environ.items() if not k.startswith("RTCLI_")})
    assert r.returncode == 2 and "--log-level" in r.stderr
