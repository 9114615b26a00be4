"""Functions and executions as the store keeps them, on SQLite and PostgreSQL: records go in and
come back equal, an execution is stored under Appwrite's Execution model names (as rtcli has
always written it), and a row written before the ``user_id`` column still names its user."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import orjson

from rtcli.core.records import Execution, ExecutionStatus, ExecutionTrigger, Function, FunctionTrigger
from rtcli.store.functions import FunctionsStore

FN = Function(id="fn1", name="Echo", command="cat", events=["users.*.create"], timeout=15, execute=["users"],
              enabled=True, cwd="", created_at="2026-01-01T00:00:00.000+00:00",
              updated_at="2026-01-01T00:00:00.000+00:00")


def _execution(eid: str, status: ExecutionStatus, user_id: str | None = "u1") -> Execution:
    return Execution(id=eid, function_id="fn1", user_id=user_id,
                     permissions=[f'read("user:{user_id}")'] if user_id else [], trigger=ExecutionTrigger.SCHEDULE,
                     status=status, request_method="PUT", request_path="/a?b=1", request_headers=[("x-a", "1")],
                     created_at="2026-01-01T00:00:01.000+00:00", updated_at="2026-01-01T00:00:02.000+00:00",
                     scheduled_at="2030-01-01T00:00:00.000+00:00", response_status_code=201, response_body="out",
                     response_headers=[("x-b", "2")], logs="err", errors="Exit status 1", duration=0.25)


def test_functions_and_executions_come_back_as_they_were_saved(with_store):
    done = _execution("e1", ExecutionStatus.FAILED)
    waiting = _execution("e2", ExecutionStatus.WAITING, user_id=None)

    async def scenario(store, repo):
        async with store.transaction() as tx:
            await repo.insert_function(tx, "p", FN)
            await repo.save_execution(tx, "p", done, ["user:u1"])
            await repo.save_execution(tx, "p", waiting, [])
        raw = (await store.fetchone("SELECT model FROM executions WHERE id=?", ("e1",)))[0]
        return (await repo.function("p", "fn1"), await repo.event_functions(None, 10), await repo.execution("p", "e1"),
                await repo.executions("p", "fn1", ["user:u1"], 10, 0), await repo.unfinished(),
                orjson.loads(raw) if isinstance(raw, str) else raw)

    fn, triggers, got, (total, visible), unfinished, stored = with_store(FunctionsStore, scenario)
    assert fn == FN and triggers == [FunctionTrigger("p", "fn1", ["users.*.create"])]
    assert got == done and got.status is ExecutionStatus.FAILED and got.trigger is ExecutionTrigger.SCHEDULE
    assert (total, visible) == (1, [done])  # the guest's execution is readable by no role
    assert unfinished == [("p", waiting)]
    assert stored == {"$id": "e1", "$createdAt": "2026-01-01T00:00:01.000+00:00",
                      "$updatedAt": "2026-01-01T00:00:02.000+00:00", "$permissions": ['read("user:u1")'],
                      "resourceId": "fn1", "resourceType": "functions", "deploymentId": "", "trigger": "schedule",
                      "status": "failed", "requestMethod": "PUT", "requestPath": "/a?b=1",
                      "requestHeaders": [{"name": "x-a", "value": "1"}], "responseStatusCode": 201,
                      "responseBody": "out", "responseHeaders": [{"name": "x-b", "value": "2"}], "logs": "err",
                      "errors": "Exit status 1", "duration": 0.25, "scheduledAt": "2030-01-01T00:00:00.000+00:00"}


def test_an_execution_written_before_the_user_id_column_names_its_user(with_store):
    async def scenario(store, repo):
        async with store.transaction() as tx:
            await repo.save_execution(tx, "p", _execution("e1", ExecutionStatus.SCHEDULED), ["user:u1"])
            await repo.save_execution(tx, "p", _execution("e2", ExecutionStatus.SCHEDULED, user_id=None), [])
            await tx.execute("UPDATE executions SET user_id=NULL")  # as an earlier version left it
        return await repo.execution("p", "e1"), await repo.execution("p", "e2")

    user_s, nobody_s = with_store(FunctionsStore, scenario)
    assert user_s.user_id == "u1" and user_s.permissions == ['read("user:u1")']
    assert nobody_s.user_id is None and nobody_s.permissions == []


def test_event_functions_are_the_enabled_ones_with_events_in_pages_of_project_then_id(with_store):
    """What every node's event triggers read: enabled functions with patterns only, page by page
    in (project, id) order, so a reload reads every one of them however many there are."""
    kept = [("a", "f2"), ("a", "f10"), ("b", "f1"), ("b", "f3"), ("c", "f0")]

    async def scenario(store, repo):
        async with store.transaction() as tx:
            for project, fid in kept:
                await repo.insert_function(tx, project, replace(FN, id=fid, events=[f"teams.{fid}.create", "users.*"]))
            await repo.insert_function(tx, "a", replace(FN, id="off", enabled=False))
            await repo.insert_function(tx, "b", replace(FN, id="none", events=[]))
        pages, after = [], None
        while page := await repo.event_functions(after, 2):
            pages.append(page)
            after = (page[-1].project, page[-1].function_id)
        return pages

    pages = with_store(FunctionsStore, scenario)
    assert [len(p) for p in pages] == [2, 2, 1]
    got = [t for p in pages for t in p]
    assert [(t.project, t.function_id) for t in got] == sorted(kept)
    assert all(t.events == [f"teams.{t.function_id}.create", "users.*"] for t in got)


def test_event_triggers_read_once_per_burst_keep_the_first_functions_and_say_which_they_left_out(with_store, caplog):
    """The triggers a node keeps, over a real store: loads asked for at once share one read after
    the running one, past the bound the first functions (by project, then id) are kept and the
    log names the first left out, and an event runs the matching functions as they are now."""
    from rtcli.core import events
    from rtcli.core.event import Event
    from rtcli.services.triggers import EventTriggers

    class Counted(FunctionsStore):
        reads = 0

        async def event_functions(self, after, limit):
            Counted.reads += 1
            return await super().event_functions(after, limit)

    async def scenario(store, _):
        repo = Counted(store)
        ran: list[tuple[str, list[Function]]] = []

        async def run(ev, fs):
            ran.append((ev.events[0], fs))

        triggers = EventTriggers(repo, run, limit=3)
        async with store.transaction() as tx:
            for fid in ("f4", "f2", "f1", "f3"):
                await repo.insert_function(tx, "p", replace(FN, id=fid, events=["teams.*.create"]))
            await repo.insert_function(tx, "p", replace(FN, id="f0", events=["teams.*.delete"]))
        await asyncio.gather(*(triggers.load() for _ in range(5)))
        reads = Counted.reads
        async with store.transaction() as tx:  # changed since the load: the event runs it as it is now
            await repo.save_function(tx, "p", replace(FN, id="f2", command="echo changed", events=["teams.*.create"]))
        ev = Event(project="p", events=events.generate([("teams", "t1")], "create"), channels=[], roles=[],
                   payload={"$id": "t1"}, timestamp="2026-01-01T00:00:00.000+00:00")
        await triggers._run([ev])
        return reads, triggers.by_project, ran

    with caplog.at_level("WARNING", logger="rtcli.functions"):
        reads, kept, ran = with_store(FunctionsStore, scenario)
    assert reads == 2  # the first load, then one for the four asked while it read
    assert kept == {"p": {"teams.*.delete": ["f0"], "teams.*.create": ["f1", "f2"]}}
    assert [(name, [f.id for f in fs]) for name, fs in ran] == [("teams.t1.create", ["f1", "f2"])]
    assert ran[0][1][1].command == "echo changed"
    assert "more than 3 enabled functions have event triggers: f3 of project p" in caplog.text
