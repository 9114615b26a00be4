"""Functions and the secrets around them: a run that a user or a guest asks for does not show
them its logs, its environment holds none of the server's secrets, and its key cannot do more
than work on data; an API key that runs a function lends it no more than its own scopes.
Restarting with a new ``--api-key`` revokes the old one."""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import API_KEY, start_server
from tests.security.probe import keyed, make_key
from tests.security.web import assert_error, signed_up
from tests.services import pg_database

PROBE = Path(__file__).parent / "functions" / "key_probe.py"
SECRET = "db-password-that-must-not-leak"
DENIED = {"keys.write", "users.read", "databases.write", "functions.write", "events.read"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    # the server's own environment: secrets a function must not see, one variable it may
    mp.setenv("RTCLI_API_KEY", API_KEY)
    mp.setenv("RTCLI_BROKER_PASSWORD_FOR_TEST", SECRET)
    mp.setenv("SHARED_WITH_FUNCTIONS", "yes")
    try:
        srv = start_server(tmp_path_factory.mktemp("fn") / "data", extra=["--function-env", "SHARED_WITH_FUNCTIONS"])
    finally:
        mp.undo()
    with srv.admin() as a:
        assert a.post("/tablesdb", json={"databaseId": "db", "name": "DB"}).status_code == 201
        assert a.post("/tablesdb/db/tables", json={"tableId": "t", "name": "T"}).status_code == 201
        r = a.post("/functions", json={"functionId": "probe", "name": "probe", "execute": ["any"],
                                       "command": f"{sys.executable} {PROBE}"})
        assert r.status_code == 201, r.text
    yield srv
    srv.stop()


def _report(execution: dict) -> dict:
    assert execution["status"] in ("completed", "failed"), execution
    return json.loads(execution["responseBody"])


@pytest.mark.parametrize("caller", ["guest", "user"])
def test_user_run_gets_no_logs_and_a_data_only_key(server, caller):
    with server.admin() as a:
        stolen = [k["name"] for k in a.get("/keys").json()["keys"]].count("stolen")
    client = server.guest() if caller == "guest" else signed_up(server, "runner@example.com")
    with client:
        r = client.post("/functions/probe/executions", json={"body": "", "path": "/fail"})
        assert r.status_code == 201, r.text
        e = r.json()
        assert e["status"] == "failed"  # it failed: errors and logs exist, but not for this caller
        assert e["logs"] == "" and e["errors"] == ""
        report = _report(e)
        if caller == "user":
            again = client.get(f"/functions/probe/executions/{e['$id']}").json()
            assert again["logs"] == "" and again["errors"] == ""
    calls = report["calls"]
    assert calls["rows.write"] == 201 and calls["rows.read"] == 200, calls
    assert {name for name in DENIED if calls[name] == 401} == DENIED, calls
    with server.admin() as a:  # the owner, with the server key, reads the logs
        seen = a.get(f"/functions/probe/executions/{e['$id']}").json()
        assert seen["logs"] == "the log line only keys see\n" and seen["errors"].startswith("Exit status 1")
        assert [k["name"] for k in a.get("/keys").json()["keys"]].count("stolen") == stolen


def test_function_environment_holds_no_server_secret(server):
    with server.admin() as a:
        env = _report(a.post("/functions/probe/executions", json={"body": ""}).json())["env"]
    assert SECRET not in json.dumps(env) and API_KEY not in json.dumps(env)
    assert "RTCLI_API_KEY" not in env and "RTCLI_BROKER_PASSWORD_FOR_TEST" not in env
    assert env["SHARED_WITH_FUNCTIONS"] == "yes" and env["PATH"]
    assert env["RTCLI_KEY"].startswith("rtk_exec_") and env["APPWRITE_FUNCTION_ID"] == "probe"
    assert {"RTCLI_ENDPOINT", "RTCLI_PROJECT", "RTCLI_EXECUTION_ID", "APPWRITE_FUNCTION_PROJECT_ID"} <= env.keys()


def test_key_run_lends_only_the_callers_scopes(server):
    narrow = make_key(server, ["executions.write", "executions.read", "rows.read"])
    assert narrow.status_code == 201, narrow.text
    with keyed(server, narrow.json()["secret"]) as k:
        e = k.post("/functions/probe/executions", json={"body": ""}).json()
        assert e.get("logs") == "the log line only keys see\n", e  # a key reads logs
    calls = _report(e)["calls"]
    assert calls["rows.read"] == 200 and calls["rows.write"] == 401 and calls["keys.write"] == 401, calls
    with server.admin() as a:  # the server key lends everything: the operator's own function
        calls = _report(a.post("/functions/probe/executions", json={"body": ""}).json())["calls"]
        assert calls["keys.write"] == 201 and calls["users.read"] == 200, calls


def _key_status(srv, key: str) -> int:
    with keyed(srv, key) as k:
        return k.get("/tablesdb").status_code


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_new_api_key_revokes_the_old_one(tmp_path, backend):
    with ExitStack() as stack:
        extra = ["--database", stack.enter_context(pg_database())] if backend == "postgres" else []
        _rotate(tmp_path / "data", extra)


def _rotate(data: Path, extra: list[str]) -> None:
    srv = start_server(data, api_key="rtk_first_key_0123456789", extra=extra)
    made = make_key(srv, ["databases.read"]).json()["secret"]  # a key made through the API stays
    srv.stop()
    srv = start_server(data, api_key="rtk_second_key_0123456789", extra=extra)
    try:
        assert _key_status(srv, "rtk_second_key_0123456789") == 200
        assert_error(keyed(srv, "rtk_first_key_0123456789").get("/tablesdb"), 401, "user_unauthorized")
        assert _key_status(srv, made) == 200
        names = [k["name"] for k in srv.admin().get("/keys").json()["keys"]]
        assert names.count("default") == 1
    finally:
        srv.stop()


def test_server_key_from_an_older_data_dir_is_revoked(tmp_path):
    """Data dirs from before the server key had its own row: a full-scope key named default."""
    data = tmp_path / "data"
    srv = start_server(data, api_key="rtk_current_key_0123456789")
    srv.stop()
    import hashlib

    with sqlite3.connect(data / "rtcli.db") as db:
        db.execute("INSERT INTO api_keys (project, id, name, secret_hash, scopes, created_at) "
                   "VALUES ('default', 'aaaaaaaaaaaaaaaaaaaa', 'default', ?, '[\"*\"]', '2026-01-01T00:00:00.000+00:00')",
                   (hashlib.sha256(b"rtk_older_key_0123456789").hexdigest(),))
    srv = start_server(data, api_key="rtk_current_key_0123456789")
    try:
        assert _key_status(srv, "rtk_current_key_0123456789") == 200
        assert _key_status(srv, "rtk_older_key_0123456789") == 401
    finally:
        srv.stop()
