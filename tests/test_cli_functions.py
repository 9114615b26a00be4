"""`rtcli function …` and `rtcli execution …` through the real entry point against a real server:
a small Python handler in tmp_path, sync and --async runs (polling with a key, realtime with a
user session), event-triggered runs caused by `rtcli row create`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import pytest

from rtcli import ids
from rtcli.client.api import ApiClient
from rtcli.client.functions import Functions
from tests.test_cli import heavy_in, modules_after, ok_json, rtcli_cmd, run

HANDLER = r'''
import json, os, sys, time
body = sys.stdin.read()
if body.startswith("sleep "):
    time.sleep(float(body.split()[1]))
if body == "fail":
    print("something broke", file=sys.stderr)
    sys.exit(3)
if os.environ["RTCLI_TRIGGER"] == "event":
    print("event", os.environ["RTCLI_EVENT"], json.loads(body).get("title"))
else:
    headers = json.loads(os.environ["RTCLI_HEADERS"])
    sys.stdout.write(f"hello {body} {os.environ['RTCLI_METHOD']} {os.environ['RTCLI_PATH']} {headers.get('x-test', '')}")
'''


@pytest.fixture
def env(shared_server, tmp_path):
    return shared_server.cli_env(tmp_path / "config", columns=200)


@pytest.fixture
def function(env, tmp_path):
    """A function running handler.py from tmp_path, made with `rtcli function create` run there
    (so --cwd defaults to it); users may execute it."""
    (tmp_path / "handler.py").write_text(HANDLER)
    fid = "f" + os.urandom(4).hex()
    r = subprocess.run([*rtcli_cmd(), "function", "create", fid, "--command", "python3 handler.py",
                        "--execute", "users", "--timeout", "20", "--json"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert (f["$id"], f["command"], f["cwd"], f["execute"], f["timeout"]) == (
        fid, "python3 handler.py", str(tmp_path), ["users"], 20)
    return fid


def user_env(server, env: dict, config_dir) -> dict:
    """``env`` acting as a new user: no key, the session in the default profile."""
    email = f"u{os.urandom(4).hex()}@example.com"
    with server.guest() as guest:
        assert guest.post("/account", json={"userId": "unique()", "email": email,
                                            "password": "password123"}).status_code == 201
        r = guest.post("/account/sessions/email", json={"email": email, "password": "password123"})
        assert r.status_code == 201
        token = r.cookies[f"a_session_{server.project}"]
    config_dir.mkdir(parents=True, exist_ok=True)
    # What `rtcli login` stores: the token, and the endpoint and project it belongs to.
    profile = {"session": token, "session_endpoint": server.endpoint, "session_project": server.project}
    (config_dir / "config.json").write_text(json.dumps({"profiles": {"default": profile}}))
    e = {k: v for k, v in env.items() if k != "RTCLI_KEY"}
    e["RTCLI_CONFIG_DIR"] = str(config_dir)
    return e


# --- functions ------------------------------------------------------------------------------------


def test_function_commands(env, function):
    assert ok_json("function", "get", function, env=env)["name"] == function
    assert function in [f["$id"] for f in ok_json("function", "list", env=env)["functions"]]
    r = run("function", "list", env=env)
    assert r.returncode == 0 and function in r.stdout and "python3 handler.py" in r.stdout
    changed = ok_json("function", "update", function, "--name", "Renamed", "--timeout", "5",
                      "--events", "buckets.*.files.*.create", env=env)
    assert (changed["name"], changed["timeout"], changed["events"]) == ("Renamed", 5, ["buckets.*.files.*.create"])
    assert ok_json("function", "update", function, "--events", "", env=env)["events"] == []
    assert ok_json("function", "update", function, "--disabled", env=env)["enabled"] is False
    r = run("function", "run", function, env=env)
    assert r.returncode == 1 and "disabled" in r.stderr
    assert run("function", "update", function, env=env).returncode == 2
    r = run("function", "delete", function, env=env)
    assert r.returncode == 0 and f"deleted function {function}" in r.stdout
    r = run("function", "get", function, env=env)
    assert r.returncode == 1 and "(function_not_found, 404)" in r.stderr


def test_cwd_must_exist_on_the_server(env, tmp_path):
    r = run("function", "create", "nowhere", "--command", "true", "--cwd", str(tmp_path / "missing"), env=env)
    assert r.returncode == 1 and "is not a directory on the server" in r.stderr


# --- run --------------------------------------------------------------------------------------------


def test_run_sync_prints_the_body(env, function, tmp_path):
    r = run("function", "run", function, "--body", "Ann", "--path", "/greet", "--method", "put",
            "-H", "x-test=yes", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello Ann PUT /greet yes"  # exactly the response body
    assert r.stderr.startswith("completed 200 in ") and "(execution " in r.stderr

    (tmp_path / "body.txt").write_text("from a file")
    r = run("function", "run", function, "--body-file", str(tmp_path / "body.txt"), env=env)
    assert r.stdout == "hello from a file POST / "
    r = subprocess.run([*rtcli_cmd(), "function", "run", function, "--body-file", "-"], input="piped",
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.stdout == "hello piped POST / "

    e = ok_json("function", "run", function, "--body", "json", env=env)
    assert (e["status"], e["responseStatusCode"], e["responseBody"], e["trigger"]) == (
        "completed", 200, "hello json POST / ", "http")


def test_run_failure_exits_1(env, function):
    r = run("function", "run", function, "--body", "fail", env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("error: failed 500 in ")
    assert "Exit status 3" in r.stderr and "something broke" in r.stderr  # errors and logs (API key)
    for argv, needle in [(["--body", "a", "--body-file", "b"], "not both"), (["--method", "FETCH"], "--method"),
                         (["-H", "novalue"], "NAME=VALUE")]:
        r = run("function", "run", function, *argv, env=env)
        assert r.returncode == 2 and needle in r.stderr, argv


def test_run_async_with_a_key_polls(env, function):
    r = run("function", "run", function, "--body", "sleep 0.6", "--async", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello sleep 0.6 POST / "
    statuses = [line.split()[0] for line in r.stderr.splitlines()]
    assert statuses == ["waiting", "processing", "completed"], r.stderr

    r = run("function", "run", function, "--body", "sleep 0.3", "--async", "--json", env=env)
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["status"] for d in docs][0] == "waiting" and docs[-1]["status"] == "completed"
    assert docs[-1]["responseBody"] == "hello sleep 0.3 POST / " and len({d["$id"] for d in docs}) == 1

    r = run("function", "run", function, "--body", "fail", "--async", env=env)
    assert r.returncode == 1 and "error: failed 500" in r.stderr


def test_run_async_with_a_session_follows_realtime(shared_server, env, function, tmp_path):
    uenv = user_env(shared_server, env, tmp_path / "user-config")
    r = run("function", "run", function, "--body", "sleep 0.6", "--async", env=uenv)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello sleep 0.6 POST / "
    statuses = [line.split()[0] for line in r.stderr.splitlines()]
    assert statuses == ["waiting", "processing", "completed"], r.stderr
    # A user sees no logs or errors, and only their own executions.
    r = run("function", "run", function, "--body", "fail", "--async", env=uenv)
    assert r.returncode == 1 and "error: failed 500" in r.stderr and "something broke" not in r.stderr
    mine = ok_json("execution", "list", function, env=uenv)
    assert mine["total"] == 2


def test_follow_execution_is_driven_by_events(shared_server, env, function, tmp_path):
    """With REST reads only at the start (check_every is long), the end can only come from events."""
    uenv = user_env(shared_server, env, tmp_path / "user-config")
    token = json.loads((tmp_path / "user-config" / "config.json").read_text())["profiles"]["default"]["session"]
    with ApiClient(shared_server.endpoint, "default", session=token) as client:
        functions = Functions(client)
        after = ids.format_datetime(time.time() - 1)
        execution = functions.create_execution(function, "sleep 1", asynchronous=True)

        async def follow() -> list[dict]:
            return [e async for e in functions.follow_execution(
                execution, endpoint=shared_server.endpoint, project="default", session=token,
                created_after=after, check_every=60)]

        started = time.monotonic()
        seen = asyncio.run(asyncio.wait_for(follow(), 20))
        took = time.monotonic() - started
    assert [e["status"] for e in seen] == ["waiting", "processing", "completed"]
    assert seen[-1]["responseBody"] == "hello sleep 1 POST / " and took < 10
    assert uenv  # the session user made it


# --- events and executions ------------------------------------------------------------------------


def test_event_function_runs_on_row_create(shared_server, env, function):
    db = "fdb" + os.urandom(3).hex()
    with shared_server.admin() as admin:
        assert admin.post("/tablesdb", json={"databaseId": db, "name": db}).status_code == 201
        assert admin.post(f"/tablesdb/{db}/tables", json={"tableId": "t", "name": "t"}).status_code == 201
    pattern = f"tablesdb.{db}.tables.t.rows.*.create"
    assert ok_json("function", "update", function, "--events", pattern, env=env)["events"] == [pattern]
    row = ok_json("row", "create", "--db", db, "--table", "t", "title=triggered", env=env)

    deadline = time.monotonic() + 20
    while True:
        listed = ok_json("execution", "list", function, env=env)["executions"]
        done = [e for e in listed if e["trigger"] == "event" and e["status"] in ("completed", "failed")]
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(done) == 1, listed
    e = done[0]
    assert e["status"] == "completed"
    assert e["responseBody"] == f"event tablesdb.{db}.tables.t.rows.{row['$id']}.create triggered\n"
    r = run("execution", "list", function, env=env)
    assert r.returncode == 0 and e["$id"] in r.stdout and "event" in r.stdout and "completed" in r.stdout
    assert ok_json("execution", "get", function, e["$id"], env=env)["responseBody"] == e["responseBody"]
    r = run("execution", "get", function, "nope", env=env)
    assert r.returncode == 1 and "(execution_not_found, 404)" in r.stderr


def test_run_imports_nothing_heavy(env, function, tmp_path):
    code, modules = modules_after(["function", "run", function, "--body", "x"], env, tmp_path)
    assert code in (0, None)
    assert heavy_in(modules) == [] and "pydantic" not in modules and "websockets" not in modules


# --- the command line is a shell command --------------------------------------------------------


def make(env, tmp_path, command: str) -> str:
    fid = "sh" + os.urandom(4).hex()
    r = subprocess.run([*rtcli_cmd(), "function", "create", fid, "--command", command], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return fid


def test_command_runs_in_a_shell(env, tmp_path):
    fid = make(env, tmp_path, 'echo "hi $(cat)"; echo log >&2')
    r = run("function", "run", fid, "--body", "there", env=env)
    assert (r.returncode, r.stdout) == (0, "hi there\n"), r.stderr
    e = ok_json("execution", "list", fid, env=env)["executions"][0]
    assert (e["status"], e["logs"], e["errors"]) == ("completed", "log\n", "")


def test_non_zero_exit_fails_with_status_and_stderr(env, tmp_path):
    fid = make(env, tmp_path, "echo nope; echo 'disk full' >&2; exit 3")
    r = run("function", "run", fid, env=env)
    assert r.returncode == 1 and r.stdout == "nope\n"
    head, rest = r.stderr.split("\n", 1)
    assert head.startswith("error: failed 500 in ")
    assert rest == "errors:\nExit status 3: disk full\n"  # the logs are the same line: shown once


def test_missing_program_is_named(env, tmp_path):
    fid = make(env, tmp_path, "nosuchprog --flag")
    r = run("function", "run", fid, env=env)
    assert r.returncode == 1
    assert r.stderr.split("\n")[1:3] == [
        "errors:", "cannot start: program 'nosuchprog' not found (exit status 127; is it installed and on the "
                   "server's PATH?)"]


def test_create_help_says_it_is_a_shell_command(env):
    r = run("function", "create", "--help", env=env)
    assert r.returncode == 0 and "/bin/sh -c" in " ".join(r.stdout.split())


def test_timeout_is_whole_seconds(shared_server, env):
    """As in Appwrite, a function's timeout is an integer: the CLI sends one, the server takes no other."""
    fid = "slow" + os.urandom(3).hex()
    r = run("function", "create", fid, "--command", "sleep 5", "--timeout", "1", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert '"timeout":1,' in r.stdout and type(json.loads(r.stdout)["timeout"]) is int
    fraction = run("function", "create", fid + "x", "--command", "true", "--timeout", "1.5", env=env)
    assert fraction.returncode == 2 and "Error: Invalid value for '--timeout': '1.5': not an integer" in fraction.stderr
    with shared_server.admin() as admin:
        for timeout in (1.5, 1.0, 0, 901, "5", True):
            made = admin.post("/functions", json={"functionId": fid + "y", "name": "n", "command": "true",
                                                  "timeout": timeout})
            changed = admin.put(f"/functions/{fid}", json={"timeout": timeout})
            for response in (made, changed):
                assert response.status_code == 400, (timeout, response.text)
                assert response.json()["type"] == "general_argument_invalid"
                assert response.json()["message"] == ("Invalid `timeout` param: Value must be a valid range between "
                                                      "1 and 900 (whole seconds).")
        assert admin.put(f"/functions/{fid}", json={"timeout": 900}).json()["timeout"] == 900
        assert admin.delete(f"/functions/{fid}").status_code == 204


def test_async_help_says_what_it_does(env):
    r = run("function", "run", "--help", env=env)
    assert r.returncode == 0 and "Return at once" not in r.stdout
    assert "Queue the execution on the server rather than hold the request open for it" in " ".join(r.stdout.split())
