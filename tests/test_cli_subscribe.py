"""`rtcli subscribe` in a subprocess against a real server: JSON lines, pretty lines, reconnect
and resume across a server restart, --since, queries, and the exit codes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time

import pytest

from tests.conftest import free_port, start_server
from tests.test_cli import rtcli_cmd, run

ROW_CREATE = "tablesdb.*.tables.*.rows.*.create"


class Subscriber:
    """A running `rtcli subscribe`; its stdout and stderr lines are read by two threads."""

    def __init__(self, argv: list[str], env: dict) -> None:
        self.proc = subprocess.Popen([*rtcli_cmd(), "subscribe", *argv], env=env, text=True, bufsize=1,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()

    @staticmethod
    def _pump(stream, q: queue.Queue) -> None:
        for line in stream:
            q.put(line.rstrip("\n"))

    def wait_err(self, prefix: str, timeout: float = 20) -> str:
        """Block until a stderr line starting with ``prefix`` (earlier lines are kept, not matched)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.err.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"no stderr line {prefix!r} in {timeout}s; got {self.stderr_lines}") from None
            self.stderr_lines.append(line)
            if line.startswith(prefix):
                return line

    def line(self, timeout: float = 15) -> str:
        try:
            return self.out.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no stdout line in {timeout}s; stderr: {self.drain_err()}") from None

    def json_line(self, timeout: float = 15) -> dict:
        return json.loads(self.line(timeout))

    def no_line(self, within: float = 1.0) -> None:
        try:
            extra = self.out.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected stdout line: {extra[:300]}")

    def drain_err(self) -> list[str]:
        while True:
            try:
                self.stderr_lines.append(self.err.get_nowait())
            except queue.Empty:
                return self.stderr_lines

    def interrupt(self, timeout: float = 10) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        time.sleep(0.1)  # let the reader threads collect the last lines
        self.drain_err()
        return code

    def wait(self, timeout: float = 15) -> int:
        code = self.proc.wait(timeout=timeout)
        time.sleep(0.1)
        self.drain_err()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def subscribers():
    started: list[Subscriber] = []

    def start(argv: list[str], env: dict) -> Subscriber:
        sub = Subscriber(argv, env)
        started.append(sub)
        return sub

    yield start
    for sub in started:
        sub.kill()


def make_table(server, db: str = "live", table: str = "t") -> str:
    with server.admin() as admin:
        assert admin.post("/tablesdb", json={"databaseId": db, "name": db}).status_code == 201
        assert admin.post(f"/tablesdb/{db}/tables",
                          json={"tableId": table, "name": table, "permissions": ['read("any")']}).status_code == 201
        assert admin.post(f"/tablesdb/{db}/tables/{table}/columns/integer",
                          json={"key": "n", "required": False}).status_code == 202
    return f"tablesdb.{db}.tables.{table}.rows"


def cli_env(server, tmp_path) -> dict:
    return server.cli_env(tmp_path / "config")


def create_row(env: dict, row_id: str, n: int, db: str = "live") -> None:
    r = run("row", "create", "--db", db, "--table", "t", "--id", row_id, f"n={n}", "--json", env=env)
    assert r.returncode == 0, r.stderr


def test_json_lines_and_reconnect_across_server_restart(server, tmp_path, subscribers):
    channel = make_table(server)
    env = cli_env(server, tmp_path)
    sub = subscribers([channel, "--json"], env)
    assert "tablesdb.live.tables.t.rows" in sub.wait_err("subscribed")

    create_row(env, "r1", 1)
    data = sub.json_line()
    assert data["payload"]["$id"] == "r1" and data["payload"]["n"] == 1
    assert ROW_CREATE in data["events"] and channel in data["channels"]
    assert {"events", "channels", "timestamp", "payload", "subscriptions", "cursor"} <= set(data)
    assert len(data["subscriptions"]) == 1
    sub.no_line(within=1.0)  # exactly one line per event

    # The server goes away: the subscriber says so and keeps retrying.
    server.stop()
    assert sub.wait_err("connection lost").endswith("…")
    second = start_server(server.data_dir, port=server.port)
    try:
        # Created as soon as the server is back, probably before the subscriber reconnects:
        # it must arrive anyway (resume from the last cursor), and exactly once.
        with second.admin() as admin:
            r = admin.post("/tablesdb/live/tables/t/rows", json={"rowId": "r2", "data": {"n": 2}})
            assert r.status_code == 201, r.text
        sub.wait_err("reconnected")
        assert "(resumed)" in sub.wait_err("subscribed")
        assert sub.json_line()["payload"]["$id"] == "r2"
        create_row(env, "r3", 3)
        assert sub.json_line()["payload"]["$id"] == "r3"
        sub.no_line(within=1.0)  # r1 was not replayed again

        assert sub.interrupt() == 0
        assert not any("Traceback" in line or "KeyboardInterrupt" in line for line in sub.stderr_lines)
        assert not any(line.startswith("warning") for line in sub.stderr_lines), sub.stderr_lines
    finally:
        second.stop()


def test_pretty_lines(server, tmp_path, subscribers):
    channel = make_table(server)
    env = cli_env(server, tmp_path)
    sub = subscribers([channel], env)
    sub.wait_err("subscribed")
    create_row(env, "p1", 42)
    line = sub.line()
    assert " create " in line and "tablesdb.live.tables.t.rows.p1" in line and "n=42" in line
    assert not line.startswith("{")
    r = run("row", "delete", "--db", "live", "--table", "t", "--id", "p1", env=env)
    assert r.returncode == 0
    assert " delete " in sub.line()


def test_since_beginning_and_short_query(server, tmp_path, subscribers):
    channel = make_table(server)
    env = cli_env(server, tmp_path)
    for i, n in enumerate((1, 9, 2, 8)):
        create_row(env, f"old{i}", n)
    replay = subscribers([channel, "--since", "beginning", "-q", "n>5", "--json"], env)
    assert [replay.json_line()["payload"]["$id"] for _ in range(2)] == ["old1", "old3"]
    replay.wait_err("subscribed")
    create_row(env, "new-small", 3)
    create_row(env, "new-big", 6)
    assert replay.json_line()["payload"]["$id"] == "new-big"
    replay.no_line(within=0.5)

    recent = subscribers([channel, "--since", "10m", "--json"], env)
    assert [recent.json_line()["payload"]["$id"] for _ in range(6)] == [
        "old0", "old1", "old2", "old3", "new-small", "new-big"]


def test_since_the_server_cannot_replay_from_fails_at_once(server, tmp_path):
    """Not a replay and then live events: an error naming the reason, and exit 1."""
    make_table(server)
    env = cli_env(server, tmp_path)
    create_row(env, "r1", 1)
    with server.admin() as admin:
        cursor = admin.get("/events").json()["events"][-2]["cursor"]  # the one before the row's
    other_db = cursor.split(".")[0] + ".0000other." + cursor.split(".")[2]
    for since, reason in (("c1.bogus", "malformed cursor"),  # a word that is no cursor: see test_cli_events
                          (other_db, "the cursor belongs to another database")):
        started = time.monotonic()
        r = run("subscribe", "rows", "--since", since, env=env, timeout=20)
        assert r.returncode == 1 and r.stdout == "", (since, r.stderr)
        assert f"cannot replay from --since {since}: {reason}" in r.stderr, r.stderr
        assert "subscribed" not in r.stderr and time.monotonic() - started < 10
    # A cursor it can replay from still works.
    ok = run("subscribe", "rows", "--since", cursor, "--count", "1", "--timeout", "10", env=env, timeout=20)
    assert ok.returncode == 0 and "cannot replay" not in ok.stderr, ok.stderr


def test_rejected_query_exits_1(server, tmp_path, subscribers):
    env = cli_env(server, tmp_path)
    sub = subscribers(["rows", "-q", '{"method":"contains","attribute":"n","values":[1]}'], env)
    assert sub.wait() == 1
    errors = [line for line in sub.stderr_lines if line.startswith("error:")]
    assert errors and "not supported" in errors[0] and "(1003)" in errors[0]


def test_unknown_project_exits_1_without_retrying(server, tmp_path, subscribers):
    env = cli_env(server, tmp_path)
    env["RTCLI_PROJECT"] = "no-such-project"
    sub = subscribers(["rows"], env)
    assert sub.wait() == 1
    assert any(line.startswith("error:") and "project" in line.lower() for line in sub.stderr_lines)
    assert not any("reconnecting" in line or "Retrying" in line for line in sub.stderr_lines)


def test_waits_for_a_server_that_is_not_up_yet(tmp_path, subscribers):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCLI_")}
    env.update(RTCLI_ENDPOINT=f"http://127.0.0.1:{port}/v1", RTCLI_CONFIG_DIR=str(tmp_path / "config"), NO_COLOR="1")
    sub = subscribers(["rows"], env)
    line = sub.wait_err("cannot connect")
    assert f"127.0.0.1:{port}" in line and "rtcli serve" in line
    srv = start_server(tmp_path / "late", port=port)
    try:
        sub.wait_err("subscribed", timeout=30)
        assert sub.interrupt() == 0
    finally:
        srv.stop()


def subscribed_stderr(subscribers, channels: list[str], env: dict) -> list[str]:
    """The stderr lines of a subscriber, up to its first confirmation, then interrupted."""
    sub = subscribers(channels, env)
    sub.wait_err("subscribed")
    assert sub.interrupt() == 0
    return sub.stderr_lines


def test_typo_in_a_table_or_database_name_is_warned_with_a_suggestion(server, tmp_path, subscribers):
    """The channel is subscribed anyway (it may be created later), but a name that does not exist
    says so on stderr, with the closest existing one; a right name says nothing."""
    right = make_table(server, db="main", table="messages")
    env = cli_env(server, tmp_path)
    assert not any(line.startswith("warning") for line in subscribed_stderr(
        subscribers, [right, "tablesdb.main.tables.*.rows", "databases.main.collections.messages.documents"], env))

    lines = subscribed_stderr(subscribers, [
        "tablesdb.main.tables.mesages.rows", "databases.main.collections.mesages.documents.create",
        "tablesdb.mian.tables.messages.rows", "tablesdb.main.tables.zzzz.rows", right], env)
    warned = [line for line in lines if line.startswith("warning")]
    assert warned == [
        "warning: table 'mesages' does not exist in database 'main': tablesdb.main.tables.mesages.rows, "
        "databases.main.collections.mesages.documents.create show nothing until it is created; "
        "did you mean 'messages'?",
        "warning: table 'zzzz' does not exist in database 'main': tablesdb.main.tables.zzzz.rows shows nothing "
        "until it is created (`rtcli table list --db main`)",
        "warning: database 'mian' does not exist: tablesdb.mian.tables.messages.rows shows nothing until it is "
        "created; did you mean 'main'?",
    ], lines
    # The warnings come before the confirmation, which names the API key by saying nothing of it.
    assert lines[-1].startswith("subscribed to tablesdb.main.tables.mesages.rows") and " as " not in lines[-1]

    legacy = subscribed_stderr(subscribers, ["databases.main.collections.mesages.documents"], env)
    assert "warning: collection 'mesages' does not exist in database 'main': " in legacy[0], legacy


def test_a_guest_or_user_is_told_who_it_subscribes_as_and_nothing_it_cannot_check(server, tmp_path, subscribers):
    """A guest may not read databases or tables: no verdict, so no warning; the confirmation
    says the subscription acts as a guest (it receives only what is readable by any), or as the
    user who is logged in."""
    make_table(server, db="main", table="messages")
    guest = server.cli_env(tmp_path / "guest", key=False)
    lines = subscribed_stderr(subscribers, ["tablesdb.main.tables.mesages.rows"], guest)
    assert not any(line.startswith("warning") for line in lines), lines
    assert lines[-1].startswith("subscribed to tablesdb.main.tables.mesages.rows (id ")
    assert lines[-1].endswith(") as a guest"), lines

    signup = subprocess.run([*rtcli_cmd(), "signup", "ann@example.com"], env=guest, input="correct horse battery\n",
                            capture_output=True, text=True, timeout=30)
    assert signup.returncode == 0, signup.stderr
    user = subscribed_stderr(subscribers, ["rows"], guest)
    assert user[-1].startswith("subscribed to rows (id ") and user[-1].endswith(") as ann@example.com"), user


def test_json_piped_into_head_exits_after_the_first_event(server, tmp_path):
    """`x=$(rtcli subscribe … --json | head -1)` returns once the first event is read: the
    subscriber notices that its reader has gone without waiting for a second event to write."""
    import shlex

    channel = make_table(server)
    env = cli_env(server, tmp_path)
    command = f"set -o pipefail; {shlex.join([*rtcli_cmd(), 'subscribe', channel, '--json'])} | head -1"
    pipeline = subprocess.Popen(["bash", "-c", command], env=env, text=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        for line in pipeline.stderr:
            if line.startswith("subscribed"):
                break
        create_row(env, "only", 1)
        written = time.monotonic()
        out, err = pipeline.communicate(timeout=15)  # no second event comes: only the reader's going ends it
        took = time.monotonic() - written
    finally:
        if pipeline.poll() is None:  # the whole pipeline: killing bash alone would leave rtcli running
            os.killpg(pipeline.pid, signal.SIGKILL)
            pipeline.wait()
    assert pipeline.returncode == 0, err
    assert [json.loads(line)["payload"]["$id"] for line in out.splitlines()] == ["only"]
    assert took < 5, f"the pipeline took {took:.1f} s to end after the event"
    assert "Traceback" not in err and "Broken pipe" not in err, err


def test_a_topic_message_shows_its_event_name(server, tmp_path, subscribers):
    """`rtcli publish jobs … --event finished` reads as `finished topics.jobs.messages.<id> …`."""
    env = cli_env(server, tmp_path)
    assert run("topic", "create", "jobs", "-p", "read:any", env=env).returncode == 0
    sub = subscribers(["topics.jobs"], env)
    sub.wait_err("subscribed")
    assert run("publish", "jobs", "id=42", "--event", "finished", env=env).returncode == 0
    line = sub.line()
    assert " finished topics.jobs.messages." in line and line.endswith(" id=42"), line
    assert " create " not in line
    assert run("publish", "jobs", "id=43", env=env).returncode == 0  # no event name: the action, as before
    line = sub.line()
    assert " create topics.jobs.messages." in line and line.endswith(" id=43"), line
