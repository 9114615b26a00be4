"""Executions of functions: by HTTP (sync or async), at a scheduled time, and by events.

A function runs as a subprocess (see server/runner.py) with the request body on stdin and this
environment:

    RTCLI_FUNCTION_ID, RTCLI_EXECUTION_ID, RTCLI_TRIGGER (http|schedule|event), RTCLI_METHOD,
    RTCLI_PATH, RTCLI_HEADERS (JSON), RTCLI_EVENT and RTCLI_EVENT_PAYLOAD (JSON; event triggers),
    RTCLI_ENDPOINT, RTCLI_PROJECT, RTCLI_KEY (a key valid for this execution only, see below),
    RTCLI_USER_ID (who asked for it, if a user did),
    RTCLI_RESPONSE_FILE (write {"statusCode": 201, "headers": {...}} there to set them),
    and APPWRITE_FUNCTION_ID / APPWRITE_FUNCTION_PROJECT_ID for familiarity.

stdout becomes ``responseBody``, stderr ``logs``; exit status 0 means ``completed``, anything
else (or the timeout) ``failed``.

The execution's key has the scopes of the API key that asked for the run, if one did (a
function never lifts a key above itself). Otherwise (a user, a guest, an event, a schedule
recovered after a restart) it has ``EXECUTION_SCOPES``: rows, files, teams, executions and
presences, but no schema changes, users, keys, functions or event log, so that a function
that lets its key slip to whoever ran it does not hand over the project.

What a request may carry (body, path, headers, date) is checked and bounded in
services/execution_input.py. Executions waiting for a slot or running, synchronous or not, each
hold their body in memory: past ``--max-execution-queue`` of them a request is refused (503; see
``execute`` for the one exception) and an event-triggered execution is recorded as failed.

A scheduled execution waits in ``ScheduledRuns``, apart from the queue of pending executions,
until it is due; its date and how many may wait are bounded (``MAX_SCHEDULE_AHEAD``,
``MAX_SCHEDULED_PER_FUNCTION``, ``MAX_SCHEDULED_PER_CALLER``). Deleting one cancels it.

Loop guard: writes made with an execution's key carry its function and depth, so an event
caused by function F never triggers F again, and a chain of event-triggered executions stops at
depth 3.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from rtcli import ids
from rtcli.core import channels, events, permissions
from rtcli.core.event import Event, Origin
from rtcli.core.ports import CommandRunner, Store
from rtcli.core.repositories import FunctionRepository
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Execution, ExecutionStatus, ExecutionTrigger, Function, RunResult
from rtcli.errors import AppwriteError
from rtcli.services.context import Ctx
from rtcli.services.execution_input import (MAX_SCHEDULE_AHEAD, SCHEDULE_CLOCK_SKEW, ExecutionRequest, parse_date,
                                            read_request)
from rtcli.services.functions import find_function
from rtcli.services.projects import Projects

# The per-execution key of a run no API key asked for: the data a function works on.
EXECUTION_SCOPES = frozenset({
    "databases.read", "rows.read", "rows.write", "files.read", "files.write", "teams.read", "teams.write",
    "executions.read", "executions.write", "presences.read", "presences.write", "topics.read", "topics.write",
    "health.read"})

log = logging.getLogger("rtcli.functions")
MAX_TRIGGER_DEPTH = 3
MAX_SCHEDULED_PER_FUNCTION = 100
MAX_SCHEDULED_PER_CALLER = 10  # per function, for each user and for all guests together; API keys are not bounded
_MAX_TIMER = 3600.0  # seconds: the loop's clock is monotonic, dates are on the wall clock, the two drift apart
GUEST = ""  # the caller of a guest's scheduled execution (no user id is empty)
_ALL = "*"  # the count of every caller's (no user id starts with *)


def execution_model(e: Execution, with_logs: bool) -> dict[str, Any]:
    """Appwrite's Execution model; ``logs`` and ``errors`` are for API keys only (as in Appwrite)."""
    return {"$id": e.id, "$createdAt": e.created_at, "$updatedAt": e.updated_at, "$permissions": e.permissions,
            "resourceId": e.function_id, "resourceType": "functions", "deploymentId": "", "trigger": e.trigger.value,
            "status": e.status.value, "requestMethod": e.request_method, "requestPath": e.request_path,
            "requestHeaders": [{"name": n, "value": v} for n, v in e.request_headers],
            "responseStatusCode": e.response_status_code, "responseBody": e.response_body,
            "responseHeaders": [{"name": n, "value": v} for n, v in e.response_headers],
            "logs": e.logs if with_logs else "", "errors": e.errors if with_logs else "", "duration": e.duration,
            "scheduledAt": e.scheduled_at}


def for_format(model: dict[str, Any], response_format: str | None) -> dict[str, Any]:
    """Responses below format 2.0.0 (node-appwrite 27 sends 1.9.5) name the function ``functionId``."""
    if response_format and _version(response_format) < (2, 0, 0):
        out = {k: v for k, v in model.items() if k not in ("resourceId", "resourceType")}
        out["functionId"] = model["resourceId"]
        return out
    return model


def _version(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in v.split(".")[:3])
    except ValueError:
        return (99,)


def _read_roles(e: Execution) -> list[str]:
    return sorted(permissions.roles_for("read", e.permissions))


def _finished(e: Execution, f: Function, result: RunResult, status_code: int,
              headers: list[tuple[str, str]]) -> Execution:
    """``e`` once its command ended with ``result`` (and set ``status_code`` and ``headers``)."""
    ok = result.exit_code == 0 and not result.timed_out
    errors = (f"Timed out after {f.timeout} s" if result.timed_out else result.error or
              (f"Exit status {result.exit_code}" if result.exit_code else ""))
    return replace(e, status=ExecutionStatus.COMPLETED if ok else ExecutionStatus.FAILED,
                   response_status_code=status_code if not result.timed_out else 408,
                   response_body=result.stdout.decode("utf-8", "replace"), response_headers=headers,
                   logs=result.stderr.decode("utf-8", "replace"), errors=errors, duration=round(result.duration, 4),
                   updated_at=ids.format_datetime())


@dataclass(frozen=True)
class ScheduledRun:
    """A scheduled execution waiting for its date, with the body it runs with."""

    project: str
    execution_id: str
    function_id: str
    caller: str | None  # a user's id, GUEST, or None (an API key, or not known after a restart)
    due: float
    stdin: bytes
    scopes: frozenset[str]


class ScheduledRuns:
    """Scheduled executions waiting for their date, with one loop timer armed for the earliest.
    ``start`` begins a due one, or answers False when the queue of pending executions is full:
    then the due ones wait until ``wake`` is called again as a slot frees."""

    def __init__(self, start: Callable[[ScheduledRun], bool]) -> None:
        self._start = start
        self._waiting: dict[tuple[str, str], ScheduledRun] = {}
        self._heap: list[tuple[float, int, tuple[str, str]]] = []  # a cancelled run's entry stays until popped
        self._order = itertools.count()
        self._counts: Counter[tuple[str, str, str | None]] = Counter()  # per project, function and caller (or _ALL)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def room(self, project: str, fid: str, caller: str | None) -> str | None:
        """Why one more run of ``fid`` for ``caller`` may not wait, or None if it may."""
        if self._counts[project, fid, _ALL] >= MAX_SCHEDULED_PER_FUNCTION:
            return f"This function already has {MAX_SCHEDULED_PER_FUNCTION} scheduled executions waiting"
        if caller is not None and self._counts[project, fid, caller] >= MAX_SCHEDULED_PER_CALLER:
            who = "Guests already have" if caller == GUEST else "You already have"
            return f"{who} {MAX_SCHEDULED_PER_CALLER} scheduled executions of this function waiting"
        return None

    def add(self, run: ScheduledRun) -> None:
        key = (run.project, run.execution_id)
        self._waiting[key] = run
        self._count(run, 1)
        heapq.heappush(self._heap, (run.due, next(self._order), key))
        self._arm()

    def cancel(self, project: str, eid: str) -> None:
        run = self._waiting.pop((project, eid), None)
        if run is not None:
            self._count(run, -1)
            if len(self._heap) > 2 * len(self._waiting) + 64:  # mostly cancelled entries: rebuild
                self._heap = [entry for entry in self._heap if entry[2] in self._waiting]
                heapq.heapify(self._heap)

    def _count(self, run: ScheduledRun, step: int) -> None:
        for who in (_ALL, run.caller):
            key = (run.project, run.function_id, who)
            self._counts[key] += step
            if not self._counts[key]:
                del self._counts[key]

    def wake(self, fired: bool = False) -> None:
        """Start the due runs the queue has room for, then arm the timer for the next one."""
        if fired:
            self._timer, self._timer_at = None, float("inf")
        now = time.time()
        while self._heap and self._heap[0][0] <= now:
            run = self._waiting.get(self._heap[0][2])
            if run is not None:
                if not self._start(run):
                    return
                del self._waiting[self._heap[0][2]]
                self._count(run, -1)
            heapq.heappop(self._heap)
        self._arm()

    def _arm(self) -> None:
        while self._heap and self._heap[0][2] not in self._waiting:
            heapq.heappop(self._heap)
        due = self._heap[0][0] if self._heap else float("inf")
        if self._timer is not None:
            if self._timer_at <= due:
                return
            self._timer.cancel()
        self._timer, self._timer_at = None, float("inf")
        if self._heap:
            delay = min(max(0.0, due - time.time()), _MAX_TIMER)
            self._timer = asyncio.get_running_loop().call_later(delay, self.wake, True)
            self._timer_at = time.time() + delay


class Executions:
    def __init__(self, store: Store, repo: FunctionRepository, runner: CommandRunner, endpoint: Callable[[], str],
                 keys: Projects, max_pending: int = 100) -> None:
        self.store = store
        self.repo = repo
        self.runner = runner
        self.endpoint = endpoint
        self.keys = keys  # registers the per-execution keys
        # Executions waiting for a slot or running, synchronous or not, each with its body in memory:
        # at most max_pending (see _full); more are refused (503), not queued.
        self.tasks: set[asyncio.Task[None]] = set()  # asynchronous, due scheduled and event-triggered ones
        # Ones a request was let in for and not in tasks: a synchronous one until it is answered, an
        # asynchronous one until its task starts (counted at once: concurrent requests see each other).
        self.admitted = 0
        self.max_pending = max_pending
        self.scheduled = ScheduledRuns(self._start_scheduled)
        self._scheduling = asyncio.Lock()  # the room for a scheduled run is checked and taken at once

    # --- records and events ------------------------------------------------------------------

    @staticmethod
    def _new(f: Function, trigger: ExecutionTrigger, method: str, path: str, headers: list[tuple[str, str]],
             uid: str | None) -> Execution:
        now = ids.format_datetime()
        return Execution(id=ids.unique(), function_id=f.id, user_id=uid,
                         permissions=[f'read("user:{uid}")'] if uid else [], trigger=trigger,
                         status=ExecutionStatus.WAITING, request_method=method, request_path=path,
                         request_headers=headers, created_at=now,
                         updated_at=now)

    @staticmethod
    def _event(project: str, e: Execution, action: str, user_id: str | None) -> Event:
        f = e.function_id
        return Event(project=project, events=events.generate([("functions", f), ("executions", e.id)], action),
                     channels=channels.with_action(["console", f"projects.{project}", "executions",
                                                    f"executions.{e.id}", f"functions.{f}"], action),
                     roles=_read_roles(e), payload=execution_model(e, with_logs=False),
                     timestamp=ids.format_datetime(), user_id=user_id)

    async def _save(self, project: str, e: Execution, action: str | None) -> None:
        """Store the execution; publish its event only for a user's execution (as Appwrite)."""
        async with self.store.transaction() as tx:
            await self.repo.save_execution(tx, project, e, _read_roles(e))
            if action and e.permissions:
                await tx.append_event(self._event(project, e, action, e.user_id))

    # --- running -----------------------------------------------------------------------------

    async def execute(self, ctx: Ctx, fid: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        f = await find_function(self.repo, ctx, fid)
        if ctx.actor.is_key:
            ctx.require_scope("executions.write")
        elif not ctx.actor.can(set(f.execute)):
            raise AppwriteError("user_unauthorized", "You are not allowed to execute this function.")
        if not f.enabled:
            raise AppwriteError("general_access_forbidden", "The function is disabled.")
        req = read_request(body, time.time())
        if req.due is not None:
            return await self._schedule(ctx, f, req)
        # A synchronous run by an API key is not refused: its caller (the project's back end) waits
        # for each one on a connection of its own, so that bounds them, and a flood from guests must
        # not lock it out. An asynchronous one is answered at once: a loop of them would pile up.
        if self._full() and (req.asynchronous or not ctx.actor.is_key):
            raise AppwriteError("general_service_unavailable",
                                f"Too many executions are waiting or running ({self.max_pending}, the server's "
                                "--max-execution-queue): try again later (or raise --max-execution-queue).")
        uid = ctx.actor.user_id
        scopes = ctx.actor.scopes if ctx.actor.is_key else EXECUTION_SCOPES
        with_logs = ctx.actor.is_key
        e = self._new(f, ExecutionTrigger.HTTP, req.method, req.path, req.headers, uid)
        self.admitted += 1
        try:
            if req.asynchronous:
                await self._save(ctx.project, e, "create")
                self._spawn(ctx.project, f, e, req.stdin, event=None, depth=0, scopes=scopes)
                return 202, execution_model(e, with_logs)
            e = await self._run(ctx.project, f, replace(e, status=ExecutionStatus.PROCESSING), req.stdin,
                                event=None, depth=0, scopes=scopes)
            await self._save(ctx.project, e, "create")
        finally:
            self.admitted -= 1
            self.scheduled.wake()  # there may be room again: due scheduled runs waiting for it may start
        return 201, execution_model(e, with_logs)

    def _full(self) -> bool:
        return len(self.tasks) + self.admitted >= self.max_pending

    async def _schedule(self, ctx: Ctx, f: Function, req: ExecutionRequest) -> tuple[int, dict[str, Any]]:
        assert req.due is not None, "only a request with scheduledAt is scheduled"
        caller = None if ctx.actor.is_key else ctx.actor.user_id or GUEST
        async with self._scheduling:
            if full := self.scheduled.room(ctx.project, f.id, caller):
                raise AppwriteError("general_rate_limit_exceeded",
                                    f"{full}: delete some, or wait until they run, before scheduling more.")
            e = replace(self._new(f, ExecutionTrigger.SCHEDULE, req.method, req.path, req.headers, ctx.actor.user_id),
                        status=ExecutionStatus.SCHEDULED, scheduled_at=ids.format_datetime(req.due))
            await self._save(ctx.project, e, "create")
            self.scheduled.add(ScheduledRun(ctx.project, e.id, f.id, caller, req.due, req.stdin,
                                            ctx.actor.scopes if ctx.actor.is_key else EXECUTION_SCOPES))
        return 202, execution_model(e, ctx.actor.is_key)

    def _start_scheduled(self, run: ScheduledRun) -> bool:
        if self._full():
            return False
        self._track(asyncio.create_task(self._run_scheduled(run)))
        return True

    async def _run_scheduled(self, run: ScheduledRun) -> None:
        # Read again: it may have been deleted (here or on another node) or its function changed.
        async with self.store.transaction() as tx:
            e = await self.repo.execution(run.project, run.execution_id, tx)
            f = await self.repo.function(run.project, run.function_id, tx)
            if e is None or f is None or e.status is not ExecutionStatus.SCHEDULED:
                return
            running = replace(e, status=ExecutionStatus.PROCESSING if f.enabled else ExecutionStatus.FAILED,
                              errors="" if f.enabled else "Not run: the function is disabled.",
                              updated_at=ids.format_datetime())
            await self.repo.save_execution(tx, run.project, running, _read_roles(running))
            if running.permissions:
                await tx.append_event(self._event(run.project, running, "update", running.user_id))
        if f.enabled:
            await self._save(run.project, await self._run(run.project, f, running, run.stdin, None, 0, run.scopes),
                             "update")

    def _spawn(self, project: str, f: Function, e: Execution, stdin: bytes, event: Event | None, depth: int,
               scopes: frozenset[str] = EXECUTION_SCOPES) -> None:
        async def go() -> None:
            running = replace(e, status=ExecutionStatus.PROCESSING, updated_at=ids.format_datetime())
            await self._save(project, running, "update")
            await self._save(project, await self._run(project, f, running, stdin, event, depth, scopes), "update")

        self._track(asyncio.create_task(go()))

    def _track(self, task: asyncio.Task[None]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception():
            log.error("execution failed unexpectedly", exc_info=task.exception())
        self.scheduled.wake()  # a slot is free: due scheduled runs waiting for one may start

    async def _run(self, project: str, f: Function, e: Execution, stdin: bytes, event: Event | None, depth: int,
                   scopes: frozenset[str] = EXECUTION_SCOPES) -> Execution:
        """Run ``f`` for ``e``; returns ``e`` finished."""
        key = "rtk_exec_" + secrets.token_hex(24)
        self.keys.add_ephemeral(key, project, origin=Origin(f.id, depth + 1), scopes=scopes)
        fd, response_file = tempfile.mkstemp(prefix="rtcli-response-")
        os.close(fd)
        env = {
            "RTCLI_FUNCTION_ID": f.id, "RTCLI_EXECUTION_ID": e.id, "RTCLI_TRIGGER": e.trigger.value,
            "RTCLI_METHOD": e.request_method, "RTCLI_PATH": e.request_path,
            "RTCLI_HEADERS": json.dumps(dict(e.request_headers)),
            "RTCLI_ENDPOINT": self.endpoint(), "RTCLI_PROJECT": project, "RTCLI_KEY": key,
            "RTCLI_RESPONSE_FILE": response_file, "RTCLI_USER_ID": e.user_id or "",
            "APPWRITE_FUNCTION_ID": f.id, "APPWRITE_FUNCTION_PROJECT_ID": project,
        }
        if event is not None:
            env["RTCLI_EVENT"] = event.events[0]
            env["RTCLI_EVENT_PAYLOAD"] = json.dumps(event.payload)
        try:
            result = await self.runner.run(f.command, f.cwd or None, stdin, env, f.timeout)
        finally:
            self.keys.remove_ephemeral(key)
        status: int = 200 if result.exit_code == 0 else 500
        headers: list[tuple[str, str]] = []
        try:
            with open(response_file) as fh:
                spec = json.loads(fh.read() or "{}")
            if isinstance(spec.get("statusCode"), int):
                status = spec["statusCode"]
            if isinstance(spec.get("headers"), dict):
                headers = [(str(k), str(v)) for k, v in spec["headers"].items()]
        except (OSError, ValueError, AttributeError):
            pass
        finally:
            os.unlink(response_file)
        return _finished(e, f, result, status, headers)

    # --- reading and deleting ------------------------------------------------------------------

    async def get_execution(self, ctx: Ctx, fid: str, eid: str) -> dict[str, Any]:
        await find_function(self.repo, ctx, fid)
        e = await self.repo.execution(ctx.project, eid)
        if e is None or e.function_id != fid or not self._can_read(ctx, e):
            raise AppwriteError("execution_not_found", f"Execution with the requested ID '{eid}' could not be found.")
        return execution_model(e, ctx.actor.is_key)

    async def delete_execution(self, ctx: Ctx, fid: str, eid: str) -> None:
        """An API key deletes a finished execution (its ``delete`` event, for a user's execution)."""
        ctx.require_key("executions.write")
        await find_function(self.repo, ctx, fid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            e = await self.repo.execution(ctx.project, eid, tx)
            if e is None or e.function_id != fid:
                raise AppwriteError("execution_not_found", f"Execution with the requested ID '{eid}' could not be found.")
            if e.status.running:
                raise AppwriteError("execution_in_progress", "The execution is still running: delete it once it ends.")
            await self.repo.delete_execution(tx, ctx.project, eid)
            if e.permissions:
                await tx.append_event(self._event(ctx.project, e, "delete", ctx.actor.user_id))
        self.scheduled.cancel(ctx.project, eid)

    async def list_executions(self, ctx: Ctx, fid: str, queries: list[Any]) -> dict[str, Any]:
        await find_function(self.repo, ctx, fid)
        if ctx.actor.is_key:
            ctx.require_scope("executions.read")
        p = list_plan(parse_many(queries))
        read_filter = None if ctx.actor.is_key else sorted(ctx.actor.roles | {"any"})
        total, es = await self.repo.executions(ctx.project, fid, read_filter, p.limit, p.offset)
        return {"total": total, "executions": [execution_model(e, ctx.actor.is_key) for e in es]}

    @staticmethod
    def _can_read(ctx: Ctx, e: Execution) -> bool:
        if ctx.actor.is_key:
            ctx.require_scope("executions.read")
            return True
        return ctx.actor.can(permissions.roles_for("read", e.permissions))

    # --- event triggers and restarts -----------------------------------------------------------

    async def on_event(self, event: Event, functions: list[Function]) -> None:
        """Run every enabled function of the event's project whose patterns match the event."""
        origin = event.origin
        depth = origin.depth if origin else 0
        if depth >= MAX_TRIGGER_DEPTH:
            return
        names = set(event.events)
        for f in functions:
            if not f.enabled or not names.intersection(f.events):
                continue
            if origin and origin.function == f.id:
                continue  # a function's own writes never trigger it again
            if event.events[0].startswith(f"functions.{f.id}."):
                continue  # nor do its own executions' events
            e = self._new(f, ExecutionTrigger.EVENT, "POST", "/", [], None)
            if self._full():
                e = replace(e, status=ExecutionStatus.FAILED,
                            errors=f"Not run: {self.max_pending} executions were already waiting or running "
                                   "(the server's --max-execution-queue).")
                await self._save(event.project, e, None)
                log.warning("execution of %s for %s not run: the execution queue is full", f.id, event.events[0])
                continue
            await self._save(event.project, e, None)
            self._spawn(event.project, f, e, json.dumps(event.payload).encode(), event, depth)

    async def recover(self) -> None:
        """At start: scheduled executions are scheduled again (their body is not kept, so they run
        with an empty one); executions a crash left waiting or processing are marked failed, and so
        are scheduled ones whose date is unreadable or further ahead than the API accepts."""
        for project, e in await self.repo.unfinished():
            try:
                await self._recover(project, e)
            except Exception:  # one bad row must not keep the server from starting
                log.exception("execution %s of function %s could not be recovered", e.id, e.function_id)

    async def _recover(self, project: str, e: Execution) -> None:
        why = "The server stopped before the execution finished."
        if e.status is ExecutionStatus.SCHEDULED:
            due = parse_date(e.scheduled_at or "")
            if due is None or due > time.time() + MAX_SCHEDULE_AHEAD + SCHEDULE_CLOCK_SKEW:
                why = f"Not run: its scheduled date {e.scheduled_at!r} is not a date the server accepts."
                log.warning("scheduled execution %s of function %s marked failed: its date %r is not a date the "
                            "server accepts", e.id, e.function_id, e.scheduled_at)
            elif await self.repo.function(project, e.function_id) is not None:
                self.scheduled.add(ScheduledRun(project, e.id, e.function_id, e.user_id, due, b"", EXECUTION_SCOPES))
                return
        await self._save(project, replace(e, status=ExecutionStatus.FAILED, errors=why,
                                          updated_at=ids.format_datetime()), None)
