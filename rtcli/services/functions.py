"""Functions (local commands) and executions: by HTTP (sync or async) and by events.

A function runs as a subprocess (see server/runner.py) with the request body on stdin and this
environment:

    RTCLI_FUNCTION_ID, RTCLI_EXECUTION_ID, RTCLI_TRIGGER (http|event), RTCLI_METHOD, RTCLI_PATH,
    RTCLI_HEADERS (JSON), RTCLI_EVENT and RTCLI_EVENT_PAYLOAD (JSON; event triggers),
    RTCLI_ENDPOINT, RTCLI_PROJECT, RTCLI_KEY (a key valid for this execution only, see below),
    RTCLI_RESPONSE_FILE (write {"statusCode": 201, "headers": {...}} there to set them),
    and APPWRITE_FUNCTION_ID / APPWRITE_FUNCTION_PROJECT_ID for familiarity.

stdout becomes ``responseBody``, stderr ``logs``; exit status 0 means ``completed``, anything
else (or the timeout) ``failed``.

The execution's key has the scopes of the API key that asked for the run, if one did (a
function never lifts a key above itself). Otherwise (a user, a guest, an event, a schedule
recovered after a restart) it has ``EXECUTION_SCOPES``: rows, files, teams, executions and
presences, but no schema changes, users, keys, functions or event log, so that a function
that lets its key slip to whoever ran it does not hand over the project.

Loop guard: writes made with an execution's key carry its function and depth, so an event
caused by function F never triggers F again, and a chain of event-triggered executions stops at
depth 3.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import tempfile
import time
from datetime import datetime, UTC
from collections.abc import Callable

from rtcli import ids
from rtcli.core import channels, events, permissions
from rtcli.core.event import Controls, Event, Origin
from rtcli.core.queries import parse_many
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.triggers import EventTriggers
from rtcli.core.queries import plan as list_plan

# The per-execution key of a run no API key asked for: the data a function works on.
EXECUTION_SCOPES = frozenset({
    "databases.read", "rows.read", "rows.write", "files.read", "files.write", "teams.read", "teams.write",
    "executions.read", "executions.write", "presences.read", "presences.write", "topics.read", "topics.write",
    "health.read"})

log = logging.getLogger("rtcli.functions")
MAX_TRIGGER_DEPTH = 3
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")


def function_model(f: dict) -> dict:
    return {"$id": f["id"], "$createdAt": f["created_at"], "$updatedAt": f["updated_at"], "execute": f["execute"],
            "name": f["name"], "enabled": f["enabled"], "live": True, "logging": True, "runtime": "local",
            "deployment": "", "events": f["events"], "schedule": "", "timeout": f["timeout"],
            "entrypoint": "", "commands": f["command"], "command": f["command"], "cwd": f["cwd"]}


def for_format(model: dict, response_format: str | None) -> dict:
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


def _functions_changed(project: str, fid: str, action: str) -> Event:
    """The log entry of a function change: on no channel and readable by no role (only API keys
    see it in the event log); every node reloads its event triggers when it dispatches it
    (server.app), so a write committed on any node runs the function as it now is."""
    return Event(project=project, events=events.generate([("functions", fid)], action), channels=[], roles=[],
                 payload={"$id": fid}, timestamp=ids.format_datetime(), controls=Controls(reload_functions=True))


class Functions:
    def __init__(self, store, repo, runner, endpoint: Callable[[], str], keys, max_pending: int = 100) -> None:
        self.store = store
        self.repo = repo
        self.runner = runner
        self.endpoint = endpoint
        self.keys = keys  # Projects: registers the per-execution keys
        # Asynchronous, scheduled and event-triggered executions waiting or running, each with its
        # request body in memory: at most max_pending; more are refused (503), not queued.
        self.tasks: set[asyncio.Task] = set()
        self.max_pending = max_pending
        # The functions that events start. A change reloads this node's at once; the other nodes
        # reload theirs when the change's event reaches them.
        self.triggers = EventTriggers(repo, self.on_event)

    # --- functions ---------------------------------------------------------------------------

    def _fields(self, f: dict, body: dict) -> dict:
        if "name" in body or "name" not in f:
            name = body.get("name", f.get("id"))
            if not isinstance(name, str) or not name or len(name) > 128:
                raise invalid("Invalid `name` param: Value must be a string of 1-128 characters.")
            f["name"] = name
        if "command" in body or "commands" in body or "command" not in f:
            command = body.get("command", body.get("commands"))
            if not isinstance(command, str) or not command.strip():
                raise invalid("Invalid `command` param: the command to run, e.g. \"python handler.py\".")
            f["command"] = command
        if "events" in body or "events" not in f:
            evs = body.get("events") or []
            if not isinstance(evs, list) or not all(isinstance(e, str) and e for e in evs) or len(evs) > 100:
                raise invalid("Invalid `events` param: a list of event patterns such as tablesdb.*.tables.T.rows.*.create.")
            f["events"] = evs
        if "timeout" in body or "timeout" not in f:
            t = body.get("timeout", 15)
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 900:
                raise invalid("Invalid `timeout` param: seconds between 1 and 900.")
            f["timeout"] = t
        if "execute" in body or "execute" not in f:
            roles = body.get("execute") or []
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise invalid("Invalid `execute` param: a list of roles such as any, users, user:ID.")
            for r in roles:
                permissions.parse(f'read("{r}")')
            f["execute"] = roles
        if "enabled" in body or "enabled" not in f:
            f["enabled"] = bool(body.get("enabled", True))
        if "cwd" in body or "cwd" not in f:
            cwd = body.get("cwd") or ""
            if not isinstance(cwd, str) or (cwd and not os.path.isdir(cwd)):
                raise invalid(f"Invalid `cwd` param: '{cwd}' is not a directory on the server.")
            f["cwd"] = cwd
        return f

    async def function(self, ctx: Ctx, fid: str, tx=None) -> dict:
        f = await self.repo.function(ctx.project, fid, tx)
        if f is None:
            raise AppwriteError("function_not_found", f"Function with the requested ID '{fid}' could not be found.")
        return f

    async def create(self, ctx: Ctx, body: dict) -> dict:
        ctx.require_key("functions.write")
        fid = ids.resolve_id(body.get("functionId"))
        if fid is None:
            raise invalid("Invalid `functionId` param: Parameter must contain at most 36 chars. Valid chars are "
                          "a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
        now = ids.format_datetime()
        f = self._fields({"id": fid, "created_at": now, "updated_at": now}, body)
        async with self.store.transaction(ctx.actor.origin) as tx:
            if await self.repo.function(ctx.project, fid, tx):
                raise AppwriteError("function_already_exists")
            await self.repo.save_function(tx, ctx.project, f)
            await tx.append_event(_functions_changed(ctx.project, fid, "create"))
        await self.triggers.load()
        return function_model(f)

    async def get(self, ctx: Ctx, fid: str) -> dict:
        ctx.require_key("functions.read")
        return function_model(await self.function(ctx, fid))

    async def list(self, ctx: Ctx, queries: list) -> dict:
        ctx.require_key("functions.read")
        p = list_plan(parse_many(queries))
        total, fs = await self.repo.functions(ctx.project, p.limit, p.offset)
        return {"total": total, "functions": [function_model(f) for f in fs]}

    async def update(self, ctx: Ctx, fid: str, body: dict) -> dict:
        ctx.require_key("functions.write")
        f = self._fields(await self.function(ctx, fid), body)
        f["updated_at"] = ids.format_datetime()
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.repo.save_function(tx, ctx.project, f)
            await tx.append_event(_functions_changed(ctx.project, fid, "update"))
        await self.triggers.load()
        return function_model(f)

    async def delete(self, ctx: Ctx, fid: str) -> None:
        ctx.require_key("functions.write")
        await self.function(ctx, fid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.repo.delete_function(tx, ctx.project, fid)
            await tx.append_event(_functions_changed(ctx.project, fid, "delete"))
        await self.triggers.load()

    # --- executions --------------------------------------------------------------------------

    @staticmethod
    def _event(project: str, model: dict, action: str, user_id: str | None) -> Event:
        f, e = model["resourceId"], model["$id"]
        roles = sorted(permissions.roles_for("read", model["$permissions"]))
        return Event(project=project, events=events.generate([("functions", f), ("executions", e)], action),
                     channels=channels.with_action(["console", f"projects.{project}", "executions",
                                                    f"executions.{e}", f"functions.{f}"], action),
                     roles=roles, payload={**model, "logs": "", "errors": ""},  # logs are for API keys only
                     timestamp=ids.format_datetime(), user_id=user_id)

    async def _save(self, project: str, model: dict, action: str | None, user_id: str | None) -> None:
        """Store the execution; publish its event only for a user's execution (as Appwrite)."""
        read_roles = sorted(permissions.roles_for("read", model["$permissions"]))
        async with self.store.transaction() as tx:
            await self.repo.save_execution(tx, project, model, read_roles)
            if action and model["$permissions"]:
                await tx.append_event(self._event(project, model, action, user_id))

    async def execute(self, ctx: Ctx, fid: str, body: dict) -> tuple[int, dict]:
        f = await self.function(ctx, fid)
        if ctx.actor.is_key:
            ctx.require_scope("executions.write")
        elif not ctx.actor.can(set(f["execute"])):
            raise AppwriteError("user_unauthorized", "You are not allowed to execute this function.")
        if not f["enabled"]:
            raise AppwriteError("general_access_forbidden", "The function is disabled.")
        req_body = body.get("body", "")
        if not isinstance(req_body, str):
            raise invalid("Invalid `body` param: Value must be a string.")
        method = body.get("method", "POST")
        if method not in METHODS:
            raise invalid(f"Invalid `method` param: one of {', '.join(METHODS)}.")
        path = body.get("path", "/")
        headers = body.get("headers") or {}
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(headers, dict):
            raise invalid("Invalid `path` or `headers` param: a path starting with / and an object of headers.")
        asynchronous = bool(body.get("async", False))
        if asynchronous and len(self.tasks) >= self.max_pending:
            raise AppwriteError("general_service_unavailable",
                                f"Too many executions are waiting ({self.max_pending}, the server's "
                                "--max-execution-queue): try again later, or run this one synchronously.")
        uid = ctx.actor.user_id
        scopes = ctx.actor.scopes if ctx.actor.is_key else EXECUTION_SCOPES
        scheduled = body.get("scheduledAt")
        if scheduled is not None:
            if not asynchronous:
                raise invalid("Scheduled executions must run asynchronously: pass async true with scheduledAt.")
            try:
                when = datetime.fromisoformat(str(scheduled).replace("Z", "+00:00"))
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
            except ValueError:
                raise invalid("Invalid `scheduledAt` param: an ISO 8601 date.") from None
            model = self._new_model(ctx.project, f, "schedule", method, path, headers, uid)
            model.update(status="scheduled", scheduledAt=ids.format_datetime(when.timestamp()))
            await self._save(ctx.project, model, "create", uid)
            self._spawn(ctx.project, f, model, req_body.encode(), uid, event=None, depth=0,
                        delay=max(0.0, when.timestamp() - time.time()), scopes=scopes)
            return 202, self._visible(ctx, model)
        model = self._new_model(ctx.project, f, "http", method, path, headers, uid)
        if asynchronous:
            await self._save(ctx.project, model, "create", uid)
            self._spawn(ctx.project, f, model, req_body.encode(), uid, event=None, depth=0, scopes=scopes)
            return 202, self._visible(ctx, model)
        model["status"] = "processing"
        await self._run(ctx.project, f, model, req_body.encode(), uid, event=None, depth=0, publish_updates=False,
                        scopes=scopes)
        await self._save(ctx.project, model, "create", uid)
        return 201, self._visible(ctx, model)  # logs and errors: API keys only

    def _new_model(self, project: str, f: dict, trigger: str, method: str, path: str, headers: dict,
                   uid: str | None) -> dict:
        now = ids.format_datetime()
        return {"$id": ids.unique(), "$createdAt": now, "$updatedAt": now,
                "$permissions": [f'read("user:{uid}")'] if uid else [], "resourceId": f["id"],
                "resourceType": "functions", "deploymentId": "", "trigger": trigger, "status": "waiting",
                "requestMethod": method, "requestPath": path,
                "requestHeaders": [{"name": str(k), "value": str(v)} for k, v in headers.items()],
                "responseStatusCode": 0, "responseBody": "", "responseHeaders": [], "logs": "", "errors": "",
                "duration": 0.0, "scheduledAt": None}

    def _spawn(self, project: str, f: dict, model: dict, stdin: bytes, uid: str | None, event: Event | None,
               depth: int, delay: float = 0.0, scopes: frozenset[str] = EXECUTION_SCOPES) -> None:
        async def go() -> None:
            if delay:
                await asyncio.sleep(delay)
            model["status"] = "processing"
            model["$updatedAt"] = ids.format_datetime()
            await self._save(project, model, "update", uid)
            await self._run(project, f, model, stdin, uid, event, depth, publish_updates=True, scopes=scopes)
            await self._save(project, model, "update", uid)

        task = asyncio.create_task(go())
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception():
            log.error("execution failed unexpectedly", exc_info=task.exception())

    async def _run(self, project: str, f: dict, model: dict, stdin: bytes, uid: str | None, event: Event | None,
                   depth: int, publish_updates: bool, scopes: frozenset[str] = EXECUTION_SCOPES) -> None:
        key = "rtk_exec_" + secrets.token_hex(24)
        self.keys.add_ephemeral(key, project, origin=Origin(f["id"], depth + 1), scopes=scopes)
        fd, response_file = tempfile.mkstemp(prefix="rtcli-response-")
        os.close(fd)
        env = {
            "RTCLI_FUNCTION_ID": f["id"], "RTCLI_EXECUTION_ID": model["$id"], "RTCLI_TRIGGER": model["trigger"],
            "RTCLI_METHOD": model["requestMethod"], "RTCLI_PATH": model["requestPath"],
            "RTCLI_HEADERS": json.dumps({h["name"]: h["value"] for h in model["requestHeaders"]}),
            "RTCLI_ENDPOINT": self.endpoint(), "RTCLI_PROJECT": project, "RTCLI_KEY": key,
            "RTCLI_RESPONSE_FILE": response_file, "RTCLI_USER_ID": uid or "",
            "APPWRITE_FUNCTION_ID": f["id"], "APPWRITE_FUNCTION_PROJECT_ID": project,
        }
        if event is not None:
            env["RTCLI_EVENT"] = event.events[0]
            env["RTCLI_EVENT_PAYLOAD"] = json.dumps(event.payload)
        try:
            result = await self.runner.run(f["command"], f["cwd"] or None, stdin, env, f["timeout"])
        finally:
            self.keys.remove_ephemeral(key)
        status, headers = 200 if result.exit_code == 0 else 500, []
        try:
            with open(response_file) as fh:
                spec = json.loads(fh.read() or "{}")
            if isinstance(spec.get("statusCode"), int):
                status = spec["statusCode"]
            if isinstance(spec.get("headers"), dict):
                headers = [{"name": str(k), "value": str(v)} for k, v in spec["headers"].items()]
        except (OSError, ValueError, AttributeError):
            pass
        finally:
            os.unlink(response_file)
        model.update(
            status="completed" if result.exit_code == 0 and not result.timed_out else "failed",
            responseStatusCode=status if not result.timed_out else 408,
            responseBody=result.stdout.decode("utf-8", "replace"), responseHeaders=headers,
            logs=result.stderr.decode("utf-8", "replace"),
            errors=(f"Timed out after {f['timeout']} s" if result.timed_out else result.error or
                    (f"Exit status {result.exit_code}" if result.exit_code else "")),
            duration=round(result.duration, 4), **{"$updatedAt": ids.format_datetime()})

    async def get_execution(self, ctx: Ctx, fid: str, eid: str) -> dict:
        await self.function(ctx, fid)
        model = await self.repo.execution(ctx.project, eid)
        if model is None or model["resourceId"] != fid or not self._can_read(ctx, model):
            raise AppwriteError("execution_not_found", f"Execution with the requested ID '{eid}' could not be found.")
        return self._visible(ctx, model)

    async def delete_execution(self, ctx: Ctx, fid: str, eid: str) -> None:
        """An API key deletes a finished execution (its ``delete`` event, for a user's execution)."""
        ctx.require_key("executions.write")
        await self.function(ctx, fid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            model = await self.repo.execution(ctx.project, eid, tx)
            if model is None or model["resourceId"] != fid:
                raise AppwriteError("execution_not_found", f"Execution with the requested ID '{eid}' could not be found.")
            if model["status"] in ("waiting", "processing"):
                raise AppwriteError("execution_in_progress", "The execution is still running: delete it once it ends.")
            await self.repo.delete_execution(tx, ctx.project, eid)
            if model["$permissions"]:
                await tx.append_event(self._event(ctx.project, model, "delete", ctx.actor.user_id))

    async def list_executions(self, ctx: Ctx, fid: str, queries: list) -> dict:
        await self.function(ctx, fid)
        if ctx.actor.is_key:
            ctx.require_scope("executions.read")
        p = list_plan(parse_many(queries))
        read_filter = None if ctx.actor.is_key else sorted(ctx.actor.roles | {"any"})
        total, models = await self.repo.executions(ctx.project, fid, read_filter, p.limit, p.offset)
        return {"total": total, "executions": [self._visible(ctx, m) for m in models]}

    @staticmethod
    def _can_read(ctx: Ctx, model: dict) -> bool:
        if ctx.actor.is_key:
            ctx.require_scope("executions.read")
            return True
        return ctx.actor.can(permissions.roles_for("read", model["$permissions"]))

    @staticmethod
    def _visible(ctx: Ctx, model: dict) -> dict:
        """``logs`` and ``errors`` are for API keys only (as in Appwrite)."""
        return model if ctx.actor.is_key else {**model, "logs": "", "errors": ""}

    # --- event triggers ----------------------------------------------------------------------

    async def on_event(self, event: Event, functions: list[dict]) -> None:
        """Run every enabled function of the event's project whose patterns match the event."""
        origin = event.origin
        depth = origin.depth if origin else 0
        if depth >= MAX_TRIGGER_DEPTH:
            return
        names = set(event.events)
        for f in functions:
            if not f["enabled"] or not names.intersection(f["events"]):
                continue
            if origin and origin.function == f["id"]:
                continue  # a function's own writes never trigger it again
            if event.events[0].startswith(f"functions.{f['id']}."):
                continue  # nor do its own executions' events
            model = self._new_model(event.project, f, "event", "POST", "/", {}, None)
            if len(self.tasks) >= self.max_pending:
                model.update(status="failed", errors=f"Not run: {self.max_pending} executions were already waiting "
                                                     "(the server's --max-execution-queue).")
                await self._save(event.project, model, None, None)
                log.warning("execution of %s for %s not run: the execution queue is full", f["id"], event.events[0])
                continue
            await self._save(event.project, model, None, None)
            self._spawn(event.project, f, model, json.dumps(event.payload).encode(), None, event, depth)

    async def recover(self) -> None:
        """At start: scheduled executions are scheduled again (their body is not kept, so they run
        with an empty one); executions a crash left waiting or processing are marked failed."""
        for project, model in await self.repo.unfinished():
            if model["status"] == "scheduled":
                f = await self.repo.function(project, model["resourceId"])
                if f is not None:
                    when = datetime.fromisoformat(model["scheduledAt"]).timestamp()
                    uid = permissions.granted_user("read", model["$permissions"])  # who asked for it
                    self._spawn(project, f, model, b"", uid, None, 0, delay=max(0.0, when - time.time()))
                    continue
            model.update(status="failed", errors="The server stopped before the execution finished.",
                         **{"$updatedAt": ids.format_datetime()})
            await self._save(project, model, None, None)
