"""The CLI inside shell scripts: signals in background jobs, a reader that stops reading, tables
in pipes, files that are not overwritten, and bounded subscriptions (--count, --timeout)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.test_cli import rtcli_cmd, run
from tests.test_cli_subscribe import make_table

CHANNEL = "tablesdb.live.tables.t.rows"


@pytest.fixture
def env(server, tmp_path):
    make_table(server)
    return server.cli_env(tmp_path / "config")


def add_rows(env: dict, *ns: int) -> None:
    for n in ns:
        r = run("row", "create", "--db", "live", "--table", "t", "--id", f"r{n}", f"n={n}", env=env)
        assert r.returncode == 0, r.stderr


BACKGROUND = """
{rtcli} subscribe {channel} --json > "$DIR/out" 2> "$DIR/err" &
pid=$!
i=0
until grep -q '^subscribed' "$DIR/err"; do i=$((i+1)); [ $i -lt 300 ] || exit 99; sleep 0.1; done
kill -{signal} $pid
wait $pid
echo "exit $?"
"""


@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_signal_stops_a_background_subscribe_cleanly(env, tmp_path, sig):
    """A non-interactive shell starts `… &` with SIGINT ignored; subscribe stops on it anyway, as on SIGTERM."""
    script = BACKGROUND.format(rtcli=" ".join(rtcli_cmd()), channel=CHANNEL, signal=sig)
    r = subprocess.run(["sh", "-c", script], env={**env, "DIR": str(tmp_path)}, capture_output=True, text=True,
                       timeout=60)
    assert r.stdout == "exit 0\n", r.stderr + (tmp_path / "err").read_text()
    assert (tmp_path / "out").read_text() == ""
    assert (tmp_path / "err").read_text().startswith(f"subscribed to {CHANNEL} (id ")


@pytest.mark.parametrize("argv", [["events", "list", "--since", "beginning"],
                                  ["events", "list", "--since", "beginning", "--json"],
                                  ["row", "list", "--db", "live", "--table", "t"]])
def test_a_reader_that_stops_reading_is_not_an_error(env, argv):
    add_rows(env, 1, 2)
    proc = subprocess.Popen([*rtcli_cmd(), *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # as `| head -0` would: every write meets a broken pipe
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 0
    assert "Error" not in err and "Traceback" not in err


def test_tables_in_a_pipe_are_tab_separated(env):
    assert run("table", "create", "--db", "live", "free", env=env).returncode == 0  # schemaless
    for n, note in [(1, None), (2, None), (3, "a\tb")]:
        r = run("row", "create", "--db", "live", "--table", "free", "--id", f"r{n}", f"n={n}",
                *([f"note={note}"] if note else []), env=env)
        assert r.returncode == 0, r.stderr
    r = run("row", "list", "--db", "live", "--table", "free", env=env)
    assert r.returncode == 0
    lines = [line.split("\t") for line in r.stdout.splitlines()]
    assert lines[0] == ["$id", "n", "note", "$updatedAt"]
    assert [line[:2] for line in lines[1:]] == [["r1", "1"], ["r2", "2"], ["r3", "3"]]
    assert [line[2] for line in lines[1:]] == ["", "", "a b"]  # a tab in a value does not start a column
    assert all(len(line) == 4 for line in lines)
    assert r.stderr == "3 of 3 rows\n"  # the caption is not data
    r = run("db", "get", "live", env=env)
    assert r.stdout.splitlines()[:2] == ["$id\tlive", "name\tlive"]


def test_download_keeps_an_existing_file_unless_forced(env, tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("new")
    assert run("bucket", "create", "b", env=env).returncode == 0
    assert run("file", "upload", "b", str(src), "--id", "f1", env=env).returncode == 0
    target = tmp_path / "kept.txt"
    target.write_text("precious")
    r = run("file", "download", "b", "f1", "-o", str(target), env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == f"error: {target} already exists: add --force to replace it, or choose another path with -o\n"
    assert target.read_text() == "precious" and not list(tmp_path.glob(".*.part"))
    r = run("file", "download", "b", "f1", "-o", str(target), "--force", env=env)
    assert r.returncode == 0 and target.read_text() == "new"


def test_count_exits_after_n_events(env):
    add_rows(env, 1, 2, 3)
    r = run("subscribe", CHANNEL, "--since", "beginning", "--count", "2", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["payload"]["n"] for line in r.stdout.splitlines()] == [1, 2]


def test_timeout_alone_stops_with_0_and_before_count_with_1(env):
    r = run("subscribe", CHANNEL, "--timeout", "1", env=env)
    assert r.returncode == 0 and r.stdout == ""
    add_rows(env, 1)
    r = run("subscribe", CHANNEL, "--since", "beginning", "--count", "2", "--timeout", "1.5", "--json", env=env)
    assert r.returncode == 1 and len(r.stdout.splitlines()) == 1
    assert r.stderr.splitlines()[-1] == "error: timed out after 1.5 s before 2 event(s) came"


def test_count_must_be_positive(env):
    r = run("subscribe", CHANNEL, "--count", "0", env=env)
    assert r.returncode == 2 and "--count" in r.stderr

