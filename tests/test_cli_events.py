"""`rtcli events list`, `rtcli explain`, `rtcli presence list` and `rtcli replay`, through the
real entry point against real servers; plus the replay planner's pure rules."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rtcli.client.replay import RecordingError, plan, read_recording
from tests.conftest import start_server
from tests.test_cli import heavy_in, modules_after, offline_env, rtcli_cmd  # noqa: F401  (fixture)


def run(*argv: str, env: dict, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*rtcli_cmd(), *argv], env=env, capture_output=True, text=True, timeout=timeout)


def ok(*argv: str, env: dict) -> subprocess.CompletedProcess:
    r = run(*argv, env=env)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return r


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def cli_env(server, tmp_path: Path, key: bool = True) -> dict:
    return server.cli_env(tmp_path / "config", key=key, columns=200)


def seq(cursor: str) -> int:
    return int(cursor.rsplit(".", 1)[1])


@pytest.fixture
def logged(server):
    """A fresh server with db `d`, table `t` (row security, no table permissions) and a user;
    five row events: r1 (read any) create, r2 (read user) create, r3 create, r1 update, r3 delete."""
    with server.guest() as guest:
        r = guest.post("/account", json={"userId": "u1", "email": "u1@example.com", "password": "password-123"})
        assert r.status_code == 201, r.text
    with server.admin() as admin:
        assert admin.post("/tablesdb", json={"databaseId": "d", "name": "d"}).status_code == 201
        assert admin.post("/tablesdb/d/tables", json={"tableId": "t", "name": "t", "rowSecurity": True,
                                                       "permissions": []}).status_code == 201
        rows = "/tablesdb/d/tables/t/rows"
        for rid, n, perms in (("r1", 1, ['read("any")']), ("r2", 2, ['read("user:u1")']), ("r3", 3, [])):
            assert admin.post(rows, json={"rowId": rid, "data": {"title": rid, "n": n},
                                          "permissions": perms}).status_code == 201
        assert admin.patch(f"{rows}/r1", json={"data": {"n": 10}}).status_code == 200
        assert admin.delete(f"{rows}/r3").status_code == 204
    return server


# --- events list ----------------------------------------------------------------------------------


def test_events_list(logged, tmp_path):
    env = cli_env(logged, tmp_path)
    r = ok("events", "list", "--since", "beginning", "--json", env=env)
    # Row events only: schema changes (columns, indexes) are in the log too, for a key to read.
    events = [e for e in json_lines(r.stdout) if e["events"][0].startswith("tablesdb.") and ".rows." in e["events"][0]]
    assert [(e["events"][0], e["payload"]["$id"]) for e in events] == [
        ("tablesdb.d.tables.t.rows.r1.create", "r1"), ("tablesdb.d.tables.t.rows.r2.create", "r2"),
        ("tablesdb.d.tables.t.rows.r3.create", "r3"), ("tablesdb.d.tables.t.rows.r1.update", "r1"),
        ("tablesdb.d.tables.t.rows.r3.delete", "r3")]
    every = json_lines(r.stdout)
    cursors = [e["cursor"] for e in every]
    assert [seq(c) for c in cursors] == sorted(seq(c) for c in cursors)
    assert f"the end of the log (cursor {cursors[-1]})" in r.stderr

    # Pretty: one line per event as `rtcli subscribe` prints them.
    pretty = ok("events", "list", "--since", "beginning", "-c", "tablesdb.d.tables.t.rows", env=env).stdout.splitlines()
    assert len(pretty) == 5
    assert " create tablesdb.d.tables.t.rows.r1 title=r1 n=1" in pretty[0]
    assert " update tablesdb.d.tables.t.rows.r1 title=r1 n=10" in pretty[3]
    assert " delete tablesdb.d.tables.t.rows.r3" in pretty[4]

    # Pages: --limit, then --since the cursor it names; --all reads on to the end.
    first = ok("events", "list", "--since", "beginning", "--limit", "2", "--json", env=env)
    page = json_lines(first.stdout)
    assert [e["cursor"] for e in page] == cursors[:2]
    assert f"more after them: rtcli events list --since {cursors[1]}" in first.stderr
    rest = json_lines(ok("events", "list", "--since", cursors[1], "--json", env=env).stdout)
    assert [e["cursor"] for e in rest] == cursors[2:]
    every_page = json_lines(ok("events", "list", "--since", "beginning", "--limit", "2", "--all", "--json",
                               env=env).stdout)
    assert [e["cursor"] for e in every_page] == cursors

    # Channel filter, durations, a date in the future.
    r1 = json_lines(ok("events", "list", "--since", "beginning", "-c", "tablesdb.d.tables.t.rows.r1", "--json",
                       env=env).stdout)
    assert [e["events"][0] for e in r1] == ["tablesdb.d.tables.t.rows.r1.create", "tablesdb.d.tables.t.rows.r1.update"]
    assert len(json_lines(ok("events", "list", "--since", "1h", "--json", env=env).stdout)) == len(cursors)
    assert ok("events", "list", "--since", "2999-01-01T00:00:00Z", "--json", env=env).stdout == ""
    # Without --since: the latest events.
    assert [e["cursor"] for e in json_lines(ok("events", "list", "--limit", "1", "--json", env=env).stdout)] == cursors[-1:]

    # A guest reads only what it may read: r1 (read any), not r2 nor r3.
    guest = cli_env(logged, tmp_path, key=False)
    seen = {e["payload"]["$id"] for e in json_lines(ok("events", "list", "--since", "beginning", "--json",
                                                        env=guest).stdout)}
    assert seen == {"r1"}

    bad = run("events", "list", "--since", " ", env=env)
    assert bad.returncode == 2 and "--since" in bad.stderr
    unknown = run("events", "list", "--since", "c1.nope.1", env=env)
    assert unknown.returncode == 1 and "general_cursor_not_found" in unknown.stderr


SINCE_FORMS = "Use 'beginning', a duration (30s, 10m, 2h, 1d), an ISO datetime, or a cursor from `rtcli events list`."


@pytest.mark.parametrize("command", [["events", "list"], ["subscribe", "rows"], ["monitor"]])
@pytest.mark.parametrize("since, problem", [
    ("10x", "'10x' is not a point in the log."), ("yesterday", "'yesterday' is not a point in the log."),
    ("2026-13-01", "not a datetime: '2026-13-01'."), (" ", "must not be empty."),
])
def test_since_is_checked_before_anything_is_sent(offline_env, command, since, problem):  # noqa: F811
    """No server is needed to refuse it: a usage error (2) naming every accepted form, the
    same for each command that takes --since."""
    r = run(*command, "--since", since, env=offline_env)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines()[-1] == f"Error: Invalid value for --since: {problem} {SINCE_FORMS}", r.stderr


def test_events_list_imports_nothing_heavy(logged, tmp_path):
    code, modules = modules_after(["events", "list", "--json"], cli_env(logged, tmp_path), tmp_path)
    assert code in (0, None)
    assert heavy_in(modules) == [] and "pydantic" not in modules
    assert "pygments" not in modules and "rich.syntax" not in modules and "trio._core" not in modules


# --- explain --------------------------------------------------------------------------------------


def test_explain_verdicts(logged, tmp_path):
    env = cli_env(logged, tmp_path)
    listed = json_lines(ok("events", "list", "--since", "beginning", "-c", "tablesdb.d.tables.t.rows.r2", "--json",
                           env=env).stdout)
    cursor = listed[0]["cursor"]  # r2 create, readable by user:u1 only

    out = ok("explain", cursor, "--user", "u1", "-c", "rows", env=env).stdout
    assert "event       tablesdb.d.tables.t.rows.r2.create" in out
    assert "channel     yes rows matches rows" in out
    assert "permission  yes shares user:u1 (event readable by: user:u1)" in out
    assert out.rstrip().endswith("verdict     DELIVERED")

    out = ok("explain", cursor, "--guest", "-c", "rows", env=env).stdout
    assert "subscriber  a guest" in out and "permission  no  none of the subscriber's roles" in out
    assert out.rstrip().endswith("verdict     NOT DELIVERED")

    out = ok("explain", cursor, "--user", "u1", "-c", "tablesdb.*.tables.t.rows", "-q", "n>=100", "-q", "title=r2",
             env=env).stdout
    assert "query 1     no  n = 2 does not satisfy greaterThanEqual [100]" in out
    assert 'query 2     yes title = "r2" satisfies equal ["r2"]' in out
    assert out.rstrip().endswith("NOT DELIVERED")

    out = ok("explain", cursor, "--key", "-c", "files", env=env).stdout
    assert "channel     no  files matches none of the event's channels" in out
    assert "permission  yes an API key connection" in out and "drops       none on this node" in out

    result = json.loads(ok("explain", cursor, "--user", "u1", "--json", env=env).stdout)
    assert result["verdict"] == "delivered" and result["subscriber"] == "user u1"

    nobody = run("explain", cursor, env=env)
    assert nobody.returncode == 2 and "--user ID, --key or --guest" in nobody.stderr
    two = run("explain", cursor, "--key", "--guest", env=env)
    assert two.returncode == 2
    no_key = run("explain", cursor, "--guest", env=cli_env(logged, tmp_path, key=False))
    assert no_key.returncode == 1 and ", 401)" in no_key.stderr
    missing_user = run("explain", cursor, "--user", "ghost", env=env)
    assert missing_user.returncode == 1 and "user_not_found" in missing_user.stderr


# --- presence -------------------------------------------------------------------------------------


def test_presence_list(logged, tmp_path):
    env = cli_env(logged, tmp_path)
    assert json.loads(ok("presence", "list", "--json", env=env).stdout)["total"] == 0
    with logged.admin() as admin:
        r = admin.put("/presences/desk", json={"userId": "u1", "status": "online", "metadata": {"page": "home"}})
        assert r.status_code == 200, r.text
    listed = json.loads(ok("presence", "list", "--json", env=env).stdout)
    assert [(p["$id"], p["userId"], p["status"]) for p in listed["presences"]] == [("desk", "u1", "online")]
    pretty = ok("presence", "list", env=env)
    assert "desk" in pretty.stdout and "online" in pretty.stdout and pretty.stderr == "1 of 1 presences\n"


# --- replay ---------------------------------------------------------------------------------------


class Recorder:
    """`rtcli subscribe --json CHANNEL… > file`, as a user would record."""

    def __init__(self, channels: list[str], env: dict, path: Path) -> None:
        self.path = path
        self.out = open(path, "w")
        self.proc = subprocess.Popen([*rtcli_cmd(), "subscribe", "--json", *channels], env=env, text=True,
                                     stdout=self.out, stderr=subprocess.PIPE)
        self.err: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.err.put(line) for line in self.proc.stderr], daemon=True).start()

    def wait_subscribed(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            line = self.err.get(timeout=max(0.01, deadline - time.monotonic()))
            if line.startswith("subscribed"):
                return

    def wait_lines(self, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.path.read_text().splitlines()) < n:
            assert time.monotonic() < deadline, self.path.read_text()
            time.sleep(0.05)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=10)
        self.out.close()
        return code


def rows_of(server, db: str, table: str) -> dict:
    with server.admin() as admin:
        r = admin.get(f"/tablesdb/{db}/tables/{table}/rows")
        assert r.status_code == 200, r.text
        return {row["$id"]: ({k: v for k, v in row.items() if not k.startswith("$")}, sorted(row["$permissions"]))
                for row in r.json()["rows"]}


def test_replay_recreates_the_rows_on_a_fresh_server(server, tmp_path):
    a, env_a = server, cli_env(server, tmp_path / "a")
    with a.admin() as admin:
        assert admin.post("/tablesdb", json={"databaseId": "shop", "name": "Shop"}).status_code == 201
        assert admin.post("/tablesdb/shop/tables", json={"tableId": "items", "name": "Items", "rowSecurity": True,
                                                          "permissions": ['read("users")']}).status_code == 201
        for kind, key in (("string", "title"), ("integer", "n")):
            body = {"key": key, "required": False, **({"size": 64} if kind == "string" else {})}
            assert admin.post(f"/tablesdb/shop/tables/items/columns/{kind}", json=body).status_code == 202
        assert admin.post("/storage/buckets", json={"bucketId": "pics", "name": "pics"}).status_code == 201
        rows = "/tablesdb/shop/tables/items/rows"
        # Written before the recording starts: only its later update is in the file.
        assert admin.post(rows, json={"rowId": "old", "data": {"title": "old", "n": 0}}).status_code == 201

    recording = tmp_path / "events.jsonl"
    recorder = Recorder(["tablesdb.>", "files"], env_a, recording)
    try:
        recorder.wait_subscribed()
        with a.admin() as admin:
            writes = [
                ("post", rows, {"rowId": "r1", "data": {"title": "one", "n": 1}, "permissions": ['read("any")']}),
                ("post", rows, {"rowId": "r2", "data": {"title": "two", "n": 2},
                                "permissions": ['read("user:u1")', 'update("user:u1")']}),
                ("post", rows, {"rowId": "r3", "data": {"title": "three", "n": 3}}),
                ("patch", f"{rows}/r1", {"data": {"n": 10}}),
                ("patch", f"{rows}/r2", {"permissions": ['read("any")']}),
                ("put", f"{rows}/r4", {"data": {"title": "four", "n": 4}}),
                ("put", f"{rows}/r1", {"data": {"title": "uno"}}),
                ("patch", f"{rows}/r3/n/increment", {"value": 5}),
                ("patch", f"{rows}/old", {"data": {"n": 99}}),
                ("delete", f"{rows}/r3", None),
            ]
            for method, path, body in writes:
                r = admin.request(method.upper(), path, json=body or {})
                assert r.status_code in (200, 201, 204), (path, r.text)
            r = admin.post("/storage/buckets/pics/files", data={"fileId": "f1"},
                           files={"file": ("a.txt", b"hello", "text/plain")})
            assert r.status_code == 201, r.text
        recorder.wait_lines(len(writes) + 1)
    finally:
        assert recorder.stop() == 0
    recorded = json_lines(recording.read_text())
    assert len(recorded) == len(writes) + 1 and all(e.get("cursor") for e in recorded)

    b = start_server(tmp_path / "b" / "data")
    try:
        env_b = cli_env(b, tmp_path / "b")
        # The tables do not exist on B: said plainly, nothing written.
        r = run("replay", str(recording), env=env_b)
        assert r.returncode == 1 and "missing on" in r.stderr and "database shop" in r.stderr
        assert "--create-missing" in r.stderr
        with b.admin() as admin:
            assert admin.get("/tablesdb/shop").status_code == 404

        dry = run("replay", str(recording), "--dry-run", "--create-missing", env=env_b)
        assert dry.returncode == 0, dry.stderr
        plan_lines = dry.stdout.splitlines()
        assert plan_lines[0] == "create shop/items/r1" and plan_lines[-1].startswith("skip buckets.pics.files.f1.create")
        assert "would create: database shop" in dry.stderr
        with b.admin() as admin:
            assert admin.get("/tablesdb/shop").status_code == 404

        r = run("replay", str(recording), "--create-missing", "-p", "read:users", "--json", env=env_b)
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout)
        assert summary["created"] == 3 and summary["deleted"] == 1 and summary["failed"] == 0
        assert summary["created"] + summary["updated"] + summary["upserted"] == 9
        assert summary["skipped"] == 1 and "file" in next(iter(summary["skipReasons"]))
        assert "created database shop" in r.stderr and "created table shop/items (schemaless" in r.stderr
        assert "upserted shop/items/old: the row was missing" in r.stderr
        assert "skipped 1: file events" in r.stderr

        assert rows_of(b, "shop", "items") == rows_of(a, "shop", "items")
        assert set(rows_of(b, "shop", "items")) == {"old", "r1", "r2", "r4"}
        with b.admin() as admin:
            table = admin.get("/tablesdb/shop/tables/items").json()
            assert table["rowSecurity"] is True and table["$permissions"] == ['read("users")']

        # A second replay: the creates of rows that are there conflict, are reported, and the exit
        # code says so (r3 was deleted, so it is created again, then deleted again).
        again = run("replay", str(recording), env=env_b)
        assert again.returncode == 1 and "row_already_exists" in again.stderr and "2 failed" in again.stderr
        assert rows_of(b, "shop", "items") == rows_of(a, "shop", "items")
    finally:
        b.stop()


def _row_event(ts: str, rid: str, n: int, cursor: str) -> str:
    return json.dumps({"events": [f"tablesdb.sp.tables.t.rows.{rid}.create", "tablesdb.*.tables.*.rows.*.create"],
                       "channels": ["rows"], "timestamp": ts, "cursor": cursor,
                       "payload": {"$id": rid, "$databaseId": "sp", "$tableId": "t", "$permissions": [], "n": n}})


def test_replay_speed_and_errors(shared_server, tmp_path):
    env = cli_env(shared_server, tmp_path)
    with shared_server.admin() as admin:
        assert admin.post("/tablesdb", json={"databaseId": "sp", "name": "sp"}).status_code == 201
        assert admin.post("/tablesdb/sp/tables", json={"tableId": "t", "name": "t"}).status_code == 201
    path = tmp_path / "timed.jsonl"
    path.write_text("\n".join([_row_event("2026-01-01T00:00:00.000+00:00", "s1", 1, "c1.x.1"),
                               _row_event("2026-01-01T00:00:01.200+00:00", "s2", 2, "c1.x.2"),
                               _row_event("2026-01-01T00:00:01.200+00:00", "s2", 2, "c1.x.2"),  # repeated: once
                               ""]) + "\n")
    started = time.monotonic()
    r = run("replay", str(path), "--speed", "2", env=env)
    took = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert took >= 0.6, took  # 1.2 s of recorded time at twice the speed
    assert "[1/2] created  sp/t/s1" in r.stderr and "2 created" in r.stderr
    assert set(rows_of(shared_server, "sp", "t")) == {"s1", "s2"}

    no_key = run("replay", str(path), env=cli_env(shared_server, tmp_path, key=False))
    assert no_key.returncode == 2 and "API key" in no_key.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"events": ["x"]}\nnot json\n')
    r = run("replay", str(bad), env=env)
    assert r.returncode == 2 and "line 2 is not JSON" in r.stderr
    assert run("replay", str(tmp_path / "absent.jsonl"), env=env).returncode == 2
    assert run("replay", str(path), "--speed", "-1", env=env).returncode == 2


def test_replay_reruns_an_execution_when_the_body_was_recorded(shared_server, tmp_path):
    env = cli_env(shared_server, tmp_path)
    with shared_server.admin() as admin:
        r = admin.post("/functions", json={"functionId": "echo", "name": "echo",
                                           "command": f"{sys.executable} -c \"import sys; print(sys.stdin.read())\""})
        assert r.status_code == 201, r.text
    base = {"$id": "e1", "resourceId": "echo", "trigger": "http", "requestMethod": "POST", "requestPath": "/x",
            "requestHeaders": [{"name": "x-a", "value": "1"}], "status": "completed"}
    lines = [
        {"events": ["functions.echo.executions.e1.create"], "timestamp": "2026-01-01T00:00:00Z",
         "payload": {**base, "requestBody": "hello"}},
        {"events": ["functions.echo.executions.e2.create"], "payload": {**base, "$id": "e2"}},  # no body recorded
        {"events": ["functions.echo.executions.e1.update"], "payload": base},
    ]
    path = tmp_path / "exec.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = run("replay", str(path), "--json", env=env)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["executed"], summary["skipped"]) == (1, 2)
    assert "the execution's request body is not in the event" in summary["skipReasons"]
    with shared_server.admin() as admin:
        executions = admin.get("/functions/echo/executions").json()["executions"]
    assert [(e["requestPath"], e["responseBody"].strip()) for e in executions] == [("/x", "hello")]


# --- the planner, pure ----------------------------------------------------------------------------


def test_plan_rules():
    row = {"$id": "r.1", "$databaseId": "d", "$tableId": "t", "$permissions": ['read("any")'], "$sequence": "3",
           "title": "x", "n": 1}
    step = plan({"events": ["tablesdb.d.tables.t.rows.r.1.update", "tablesdb.*.tables.*.rows.*.update"],
                 "payload": row})
    assert (step.action, step.database, step.table, step.row) == ("update", "d", "t", "r.1")  # ids from the payload
    assert step.data == {"title": "x", "n": 1} and step.permissions == ['read("any")']
    legacy = plan({"events": ["databases.d.collections.t.documents.r.delete"],
                   "payload": {"$id": "r", "$databaseId": "d", "$collectionId": "t"}})
    assert (legacy.action, legacy.table) == ("delete", "t")
    assert plan({"events": ["buckets.b.files.f.create"], "payload": {}}).reason.startswith("file events")
    assert plan({"events": ["users.u.sessions.s.create"], "payload": {}}).action == "skip"
    assert plan({"events": ["functions.f.executions.e.create"],
                 "payload": {"trigger": "event", "resourceId": "f"}}).reason.startswith("event-triggered")
    assert plan({"events": ["functions.f.executions.e.update"], "payload": {"resourceId": "f"}}).action == "skip"
    run_it = plan({"events": ["functions.f.executions.e.create"],
                   "payload": {"trigger": "http", "resourceId": "f", "requestBody": "", "requestMethod": "GET"}})
    assert run_it.action == "execute" and run_it.execution["method"] == "GET" and run_it.execution["body"] == ""
    assert plan({"events": ["tablesdb.d.tables.t.rows.r.create"], "payload": {}}).action == "skip"


def test_read_recording_dedupes_and_refuses_junk():
    lines = ['{"events": ["a"], "cursor": "c1.x.1"}', "", '{"events": ["a"], "cursor": "c1.x.1"}',
             '{"events": ["b"]}', '{"events": ["b"]}']
    assert [e["events"] for e in read_recording(lines)] == [["a"], ["b"], ["b"]]
    with pytest.raises(RecordingError, match="line 1 is not an event"):
        list(read_recording(['{"payload": {}}']))
    with pytest.raises(RecordingError, match="line 2 is not JSON"):
        list(read_recording(['{"events": []}', "{"]))
