"""Functions against a real server: sync and async executions, events, triggers, the loop guard,
timeouts and crashes."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path


from tests.server.test_realtime import nothing, recv
from tests.server.test_users import rt, signup, sub
from datetime import UTC

HERE = Path(__file__).parent / "functions"


def make_function(admin, name: str, script: str, **extra) -> str:
    fid = name + secrets.token_hex(3)
    r = admin.post("/functions", json={"functionId": fid, "name": name,
                                       "command": f"{sys.executable} {HERE / script}", **extra})
    assert r.status_code == 201, r.text
    return fid


def executions(admin, fid: str) -> list[dict]:
    return admin.get(f"/functions/{fid}/executions").json()["executions"]


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_sync_execution(shared_server):
    with shared_server.admin() as a:
        fid = make_function(a, "echo", "echo.py", execute=["users"])
        r = a.post(f"/functions/{fid}/executions", json={"body": "ping", "path": "/x?y=1", "method": "PUT",
                                                          "headers": {"x-h": "v"}})
        assert r.status_code == 201, r.text
        e = r.json()
        out = json.loads(e["responseBody"])
        assert e["status"] == "completed" and e["trigger"] == "http" and e["responseStatusCode"] == 202
        assert out == {"body": "ping", "trigger": "http", "event": None, "method": "PUT", "path": "/x?y=1", "headers": {"x-h": "v"}}
        assert {"name": "x-echo", "value": "yes"} in e["responseHeaders"]
        assert e["logs"] == "echo ran\n" and e["duration"] > 0 and e["resourceId"] == fid
        old = a.post(f"/functions/{fid}/executions", json={"body": ""}, headers={"X-Appwrite-Response-Format": "1.9.5"})
        assert old.json()["functionId"] == fid and "resourceId" not in old.json()
        assert a.get(f"/functions/{fid}/executions/{e['$id']}").json()["responseBody"] == e["responseBody"]
    with shared_server.guest() as g:
        denied = g.post(f"/functions/{fid}/executions", json={"body": "x"})
        assert denied.status_code == 401 and denied.json()["type"] == "user_unauthorized"


def test_async_execution_events_reach_only_the_creator(shared_server):
    with shared_server.admin() as a:
        fid = make_function(a, "echo", "echo.py", execute=["users"])
    uid, token, user = signup(shared_server, "runner")
    _, other_token, _ = signup(shared_server, "other")
    ws, _ = rt(shared_server, {"X-Appwrite-Session": token})
    ws_other, _ = rt(shared_server, {"X-Appwrite-Session": other_token})
    sub(ws, "executions")
    sub(ws_other, "executions")
    r = user.post(f"/functions/{fid}/executions", json={"body": "later", "async": True})
    assert r.status_code == 202 and r.json()["status"] == "waiting"
    eid = r.json()["$id"]
    created = recv(ws)["data"]
    assert created["events"][0] == f"functions.{fid}.executions.{eid}.create" and len(created["channels"]) == 8
    statuses = []
    while not statuses or statuses[-1] not in ("completed", "failed"):
        ev = recv(ws, 15)["data"]
        assert ev["events"][0] == f"functions.{fid}.executions.{eid}.update"
        statuses.append(ev["payload"]["status"])
    assert statuses == ["processing", "completed"]
    assert json.loads(ev["payload"]["responseBody"])["body"] == "later"
    assert ev["payload"]["logs"] == ""  # logs are for API keys
    nothing(ws_other)
    got = user.get(f"/functions/{fid}/executions/{eid}").json()
    assert got["status"] == "completed"
    ws.close()
    ws_other.close()


def test_event_trigger_and_loop_guard(shared_server):
    db = "fn" + secrets.token_hex(3)
    with shared_server.admin() as a:
        a.post("/tablesdb", json={"databaseId": db, "name": db})
        a.post(f"/tablesdb/{db}/tables", json={"tableId": "messages", "name": "m"})
        echo = make_function(a, "echo", "echo.py", events=[f"tablesdb.{db}.tables.messages.rows.*.create"])
        writer = make_function(a, "writer", "writer.py", events=[f"tablesdb.{db}.tables.messages.rows.*.create"])
        a.post(f"/tablesdb/{db}/tables/messages/rows", json={"rowId": "first", "data": {"text": "hi"}})
        first_event = f"tablesdb.{db}.tables.messages.rows.first.create"

        def echo_of_first():
            for e in executions(a, echo):
                if e["status"] == "completed" and json.loads(e["responseBody"])["event"] == first_event:
                    return e
            return None

        done = wait_for(echo_of_first)
        assert done["trigger"] == "event" and json.loads(json.loads(done["responseBody"])["body"])["$id"] == "first"
        wait_for(lambda: all(e["status"] == "completed" for e in executions(a, writer)) and executions(a, writer))
        time.sleep(1.5)  # give a runaway loop the time to show itself
        rows = a.get(f"/tablesdb/{db}/tables/messages/rows").json()
        # The writer wrote one echo row; that row triggered echo (another function) but not the writer itself.
        assert rows["total"] == 2
        assert len(executions(a, writer)) == 1
        assert len(executions(a, echo)) == 2


def test_loop_guard_covers_events_that_are_not_rows(shared_server):
    """A function triggered by team creations that creates a team runs once: the team it creates
    with its execution's key is written on behalf of that execution, so it does not trigger it."""
    tag = "loop" + secrets.token_hex(3)
    with shared_server.admin() as a:
        maker = make_function(a, "teammaker", "team_maker.py", events=["teams.*.create"])
        try:
            r = a.post("/teams", json={"teamId": tag, "name": tag})
            assert r.status_code == 201, r.text
            wait_for(lambda: [e for e in executions(a, maker) if e["status"] == "completed"])
            time.sleep(1.5)  # give a runaway loop the time to show itself
            runs = executions(a, maker)
            assert len(runs) == 1 and runs[0]["status"] == "completed", runs
            teams = a.get("/teams", params={"search": tag}).json()["teams"]
            assert sorted(t["name"] for t in teams if tag in t["name"]) == [f"after {tag}", tag]
        finally:
            a.delete(f"/functions/{maker}")


def test_timeout_kills_the_process_group_and_crash_is_contained(shared_server):
    with shared_server.admin() as a:
        hang = make_function(a, "hang", "hang.py", timeout=1)
        t0 = time.monotonic()
        e = a.post(f"/functions/{hang}/executions", json={}, timeout=30).json()
        assert e["status"] == "failed" and "Timed out" in e["errors"] and time.monotonic() - t0 < 10
        child = int(e["responseBody"].split()[0])
        wait_for(lambda: not os.path.exists(f"/proc/{child}") or "Z" in open(f"/proc/{child}/stat").read().split()[2], 5)
        crash = a.post("/functions", json={"functionId": "crash" + secrets.token_hex(3), "name": "crash",
                                           "command": f"{sys.executable} -c 'import sys; print(1); sys.exit(3)'"}).json()
        c = a.post(f"/functions/{crash['$id']}/executions", json={}).json()
        assert c["status"] == "failed" and c["errors"] == "Exit status 3" and c["responseBody"] == "1\n"
        missing = a.post("/functions", json={"functionId": "nocmd" + secrets.token_hex(3), "name": "n",
                                             "command": "/nonexistent/binary"}).json()
        m = a.post(f"/functions/{missing['$id']}/executions", json={}).json()
        assert m["status"] == "failed" and "cannot start" in m["errors"]
        assert a.get("/health").status_code == 200


def test_function_admin_errors(shared_server):
    with shared_server.admin() as a:
        assert a.post("/functions", json={"functionId": "x" + secrets.token_hex(3), "name": "n"}).status_code == 400
        assert a.get("/functions/nope").json()["type"] == "function_not_found"
        assert a.post("/functions/nope/executions", json={}).json()["type"] == "function_not_found"
        fid = make_function(a, "echo", "echo.py")
        bad = a.post(f"/functions/{fid}/executions", json={"method": "BREW"})
        assert bad.status_code == 400
        assert a.put(f"/functions/{fid}", json={"timeout": 5}).json()["timeout"] == 5
        for events in (["x" * 257], ["users.*"] * 101, [""], "users.*"):  # every node keeps the patterns in memory
            r = a.put(f"/functions/{fid}", json={"events": events})
            assert r.status_code == 400 and "`events`" in r.json()["message"], r.text
        assert a.put(f"/functions/{fid}", json={"events": ["x" * 256]}).json()["events"] == ["x" * 256]
        assert a.request("DELETE", f"/functions/{fid}", json={}).status_code == 204
    with shared_server.guest() as g:
        assert g.post("/functions", json={"functionId": "g", "name": "g", "command": "true"}).json()["type"] == "general_unauthorized_scope"


def test_scheduled_execution(shared_server):
    from datetime import datetime, timedelta

    with shared_server.admin() as a:
        fid = make_function(a, "echo", "echo.py")
        sync = a.post(f"/functions/{fid}/executions", json={"scheduledAt": "2030-01-01T00:00:00Z"})
        assert sync.status_code == 400
        when = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        r = a.post(f"/functions/{fid}/executions", json={"body": "soon", "async": True, "scheduledAt": when})
        assert r.status_code == 202 and r.json()["status"] == "scheduled" and r.json()["trigger"] == "schedule"
        eid = r.json()["$id"]
        assert a.get(f"/functions/{fid}/executions/{eid}").json()["status"] == "scheduled"
        done = wait_for(lambda: (e := a.get(f"/functions/{fid}/executions/{eid}").json())["status"] == "completed" and e)
        assert json.loads(done["responseBody"])["body"] == "soon"


def test_scheduled_execution_runs_for_its_user_after_a_restart(tmp_path, backend_args):
    """A user's scheduled execution outlives a restart and still runs as that user: the server
    finds the user again in the execution it kept."""
    from datetime import datetime, timedelta

    from tests.conftest import start_server

    server = start_server(tmp_path / "data", extra=backend_args)
    try:
        with server.admin() as a:
            fid = make_function(a, "whoami", "whoami.py", execute=["users"])
        uid, _, user = signup(server, "sched")
        when = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        r = user.post(f"/functions/{fid}/executions", json={"async": True, "scheduledAt": when})
        assert r.status_code == 202 and r.json()["status"] == "scheduled", r.text
        eid = r.json()["$id"]
        server.stop()
        server = start_server(tmp_path / "data", port=server.port, extra=backend_args)
        with server.admin() as a:
            done = wait_for(lambda: (e := a.get(f"/functions/{fid}/executions/{eid}").json())["status"] == "completed"
                            and e)
        assert done["responseBody"].strip() == uid
        assert done["$permissions"] == [f'read("user:{uid}")']
        assert user.get(f"/functions/{fid}/executions/{eid}").json()["status"] == "completed"
    finally:
        server.stop()


def _add_functions(server, count: int, events: list[str]) -> None:
    """``count`` enabled functions of the default project written into the server's store directly
    (a REST create reloads every node's triggers, so thousands of them would take minutes)."""
    import asyncio

    from rtcli.core.records import Function
    from rtcli.store.functions import FunctionsStore

    async def go() -> None:
        if server.database:
            from rtcli.store.postgres.db import PostgresStore

            store = PostgresStore(server.database)
        else:
            from rtcli.store.sqlite.db import SqliteStore

            store = SqliteStore(server.data_dir / "rtcli.db")
        await store.open()
        store.on_commit = lambda events: None
        try:
            repo = FunctionsStore(store)
            async with store.transaction() as tx:
                for i in range(count):
                    await repo.insert_function(tx, "default", Function(
                        id=f"bulk{i:05d}", name="bulk", command="true", events=events, timeout=15, execute=[],
                        enabled=True, cwd="", created_at="2026-01-01T00:00:00.000+00:00",
                        updated_at="2026-01-01T00:00:00.000+00:00"))
        finally:
            await store.close()

    asyncio.run(go())


def test_an_event_runs_a_function_read_after_pages_of_others(server):
    """Every enabled function with events is considered: the triggers are read page by page, so the
    function read last, after more than two pages of others, still runs on its event."""
    from rtcli.services.triggers import PAGE

    _add_functions(server, 2 * PAGE + 1, ["teams.nothing.create"])
    with server.admin() as a:
        assert a.get("/functions", params={"queries[]": '{"method":"limit","values":[1]}'}).json()["total"] == 2 * PAGE + 1
        last = make_function(a, "zzlast", "echo.py", events=["teams.*.create"])  # sorts after bulk*: read last
        assert a.post("/teams", json={"teamId": "t" + secrets.token_hex(3), "name": "t"}).status_code == 201
        done = wait_for(lambda: [e for e in executions(a, last) if e["status"] == "completed"])
        assert done[0]["trigger"] == "event"
        assert json.loads(done[0]["responseBody"])["event"].endswith(".create")
        assert executions(a, "bulk00000") == []
    assert "do not run on events" not in server.log()


def test_event_functions_past_the_bound_are_named_in_the_log(tmp_path, backend_args):
    """Past --max-event-functions a node keeps the first functions (by project, then id) and says in
    its log which one it left out: never silently."""
    from tests.conftest import start_server

    server = start_server(tmp_path / "data", extra=[*backend_args, "--max-event-functions", "2"])
    try:
        with server.admin() as a:
            fids = [make_function(a, f"f{i}", "echo.py", events=["teams.*.create"]) for i in range(3)]
            assert a.post("/teams", json={"teamId": "bounded", "name": "t"}).status_code == 201
            wait_for(lambda: all(e and e[0]["status"] == "completed" for e in map(lambda f: executions(a, f), fids[:2])))
            assert executions(a, fids[2]) == []
        assert f"more than 2 enabled functions have event triggers: {fids[2]} of project default" in server.log()
    finally:
        server.stop()
