"""Functions: local commands the server runs (services/executions.py runs them).

A change to a function is logged as an event on no channel, which every node dispatches by
reloading its event triggers, so a write committed on any node runs the function as it now is.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from rtcli import ids
from rtcli.core import events, permissions
from rtcli.core.event import Controls, Event
from rtcli.core.ports import Store, Transaction
from rtcli.core.repositories import FunctionRepository
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Function
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.triggers import EventTriggers


MAX_PATTERN = 256  # characters of an event pattern (ids are at most 36)


def function_model(f: Function) -> dict[str, Any]:
    return {"$id": f.id, "$createdAt": f.created_at, "$updatedAt": f.updated_at, "execute": f.execute,
            "name": f.name, "enabled": f.enabled, "live": True, "logging": True, "runtime": "local",
            "deployment": "", "events": f.events, "schedule": "", "timeout": f.timeout,
            "entrypoint": "", "commands": f.command, "command": f.command, "cwd": f.cwd}


async def find_function(repo: FunctionRepository, ctx: Ctx, fid: str, tx: Transaction | None = None) -> Function:
    f = await repo.function(ctx.project, fid, tx)
    if f is None:
        raise AppwriteError("function_not_found", f"Function with the requested ID '{fid}' could not be found.")
    return f


def _functions_changed(project: str, fid: str, action: str) -> Event:
    """The log entry of a function change: on no channel and readable by no role (only API keys
    see it in the event log); every node reloads its event triggers when it dispatches it
    (server.app)."""
    return Event(project=project, events=events.generate([("functions", fid)], action), channels=[], roles=[],
                 payload={"$id": fid}, timestamp=ids.format_datetime(), controls=Controls(reload_functions=True))


def _fields(body: dict[str, Any], fid: str, creating: bool) -> dict[str, Any]:
    """The function fields ``body`` sets, checked: all of them when ``creating`` (with their
    defaults), else only those it names."""
    fields: dict[str, Any] = {}
    if creating or "name" in body:
        name = body.get("name", fid)
        if not isinstance(name, str) or not name or len(name) > 128:
            raise invalid("Invalid `name` param: Value must be a string of 1-128 characters.")
        fields["name"] = name
    if creating or "command" in body or "commands" in body:
        command = body.get("command", body.get("commands"))
        if not isinstance(command, str) or not command.strip():
            raise invalid("Invalid `command` param: the command to run, e.g. \"python handler.py\".")
        fields["command"] = command
    if creating or "events" in body:
        evs = body.get("events") or []
        # Bounded: every node keeps the patterns of every event-triggered function in memory.
        if (not isinstance(evs, list) or len(evs) > 100
                or not all(isinstance(e, str) and 0 < len(e) <= MAX_PATTERN for e in evs)):
            raise invalid("Invalid `events` param: at most 100 event patterns of at most "
                          f"{MAX_PATTERN} characters, such as tablesdb.*.tables.T.rows.*.create.")
        fields["events"] = evs
    if creating or "timeout" in body:
        t = body.get("timeout", 15)
        # Appwrite's timeout is an integer (its Range validator refuses 1.5 and 1.0 alike).
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 900:
            raise invalid("Invalid `timeout` param: Value must be a valid range between 1 and 900 (whole seconds).")
        fields["timeout"] = t
    if creating or "execute" in body:
        roles = body.get("execute") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise invalid("Invalid `execute` param: a list of roles such as any, users, user:ID.")
        for r in roles:
            permissions.parse(f'read("{r}")')
        fields["execute"] = roles
    if creating or "enabled" in body:
        fields["enabled"] = bool(body.get("enabled", True))
    if creating or "cwd" in body:
        cwd = body.get("cwd") or ""
        if not isinstance(cwd, str) or (cwd and not os.path.isdir(cwd)):
            raise invalid(f"Invalid `cwd` param: '{cwd}' is not a directory on the server.")
        fields["cwd"] = cwd
    return fields


class Functions:
    def __init__(self, store: Store, repo: FunctionRepository, triggers: EventTriggers) -> None:
        self.store = store
        self.repo = repo
        # The functions that events start. A change reloads this node's at once; the other nodes
        # reload theirs when the change's event reaches them.
        self.triggers = triggers

    async def create(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        ctx.require_key("functions.write")
        fid = ids.resolve_id(body.get("functionId"))
        if fid is None:
            raise invalid("Invalid `functionId` param: Parameter must contain at most 36 chars. Valid chars are "
                          "a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
        now = ids.format_datetime()
        f = Function(id=fid, created_at=now, updated_at=now, **_fields(body, fid, creating=True))
        async with self.store.transaction(ctx.actor.origin) as tx:
            if await self.repo.function(ctx.project, fid, tx):
                raise AppwriteError("function_already_exists")
            await self.repo.insert_function(tx, ctx.project, f)
            await tx.append_event(_functions_changed(ctx.project, fid, "create"))
        await self.triggers.load()
        return function_model(f)

    async def get(self, ctx: Ctx, fid: str) -> dict[str, Any]:
        ctx.require_key("functions.read")
        return function_model(await find_function(self.repo, ctx, fid))

    async def list(self, ctx: Ctx, queries: list[Any]) -> dict[str, Any]:
        ctx.require_key("functions.read")
        p = list_plan(parse_many(queries))
        total, fs = await self.repo.functions(ctx.project, p.limit, p.offset)
        return {"total": total, "functions": [function_model(f) for f in fs]}

    async def update(self, ctx: Ctx, fid: str, body: dict[str, Any]) -> dict[str, Any]:
        ctx.require_key("functions.write")
        fields = _fields(body, fid, creating=False)
        async with self.store.transaction(ctx.actor.origin) as tx:
            # Read in the transaction: a function deleted meanwhile is not found (not made again),
            # and on PostgreSQL a concurrent update of it waits for this one.
            f = replace(await find_function(self.repo, ctx, fid, tx), **fields, updated_at=ids.format_datetime())
            await self.repo.save_function(tx, ctx.project, f)
            await tx.append_event(_functions_changed(ctx.project, fid, "update"))
        await self.triggers.load()
        return function_model(f)

    async def delete(self, ctx: Ctx, fid: str) -> None:
        ctx.require_key("functions.write")
        await find_function(self.repo, ctx, fid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.repo.delete_function(tx, ctx.project, fid)
            await tx.append_event(_functions_changed(ctx.project, fid, "delete"))
        await self.triggers.load()
