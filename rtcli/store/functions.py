"""Functions and executions (SQLite and PostgreSQL): typed records, no policy.

An execution is kept as one JSON document under the names of Appwrite's Execution model (as
rtcli has always stored it), beside the columns it is looked up by.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from rtcli.core.permissions import granted_user
from rtcli.core.ports import Store, Transaction
from rtcli.core.records import Execution, ExecutionStatus, ExecutionTrigger, Function, FunctionTrigger
from rtcli.errors import AppwriteError
from rtcli.store.dialect import UniqueViolation

log = logging.getLogger("rtcli.functions")


def _j(v: object) -> str:
    return orjson.dumps(v).decode()


def _function(r: Any) -> Function:
    spec = orjson.loads(r["spec"])  # every setting of the function, beside its id and dates
    return Function(id=r["id"], name=spec["name"], command=spec["command"], events=spec["events"],
                    timeout=spec["timeout"], execute=spec["execute"], enabled=spec["enabled"], cwd=spec["cwd"],
                    created_at=r["created_at"], updated_at=r["updated_at"])


def _spec(f: Function) -> str:
    return _j({"name": f.name, "command": f.command, "events": f.events, "timeout": f.timeout, "execute": f.execute,
               "enabled": f.enabled, "cwd": f.cwd})


def _headers(hs: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(h["name"], h["value"]) for h in hs]


def _execution(r: Any) -> Execution:
    d = orjson.loads(r["model"])
    permissions = d["$permissions"]
    # A row written before the user_id column existed names its user only in its permissions.
    user_id = r["user_id"] if r["user_id"] is not None else granted_user("read", permissions)
    return Execution(id=d["$id"], function_id=d["resourceId"], user_id=user_id, permissions=permissions,
                     trigger=ExecutionTrigger(d["trigger"]), status=ExecutionStatus(d["status"]),
                     request_method=d["requestMethod"], request_path=d["requestPath"],
                     request_headers=_headers(d["requestHeaders"]), created_at=d["$createdAt"],
                     updated_at=d["$updatedAt"], scheduled_at=d.get("scheduledAt"),
                     response_status_code=d["responseStatusCode"], response_body=d["responseBody"],
                     response_headers=_headers(d["responseHeaders"]), logs=d["logs"], errors=d["errors"],
                     duration=d["duration"])


def _document(e: Execution) -> str:
    return _j({"$id": e.id, "$createdAt": e.created_at, "$updatedAt": e.updated_at, "$permissions": e.permissions,
               "resourceId": e.function_id, "resourceType": "functions", "deploymentId": "", "trigger": e.trigger,
               "status": e.status, "requestMethod": e.request_method, "requestPath": e.request_path,
               "requestHeaders": [{"name": n, "value": v} for n, v in e.request_headers],
               "responseStatusCode": e.response_status_code, "responseBody": e.response_body,
               "responseHeaders": [{"name": n, "value": v} for n, v in e.response_headers], "logs": e.logs,
               "errors": e.errors, "duration": e.duration, "scheduledAt": e.scheduled_at})


class FunctionsStore:
    """Implements core.repositories.FunctionRepository. ``read_roles`` holds who may read each
    execution, the column a user's list is filtered by."""

    def __init__(self, store: Store) -> None:
        self.s = store
        self.d: Any = store.dialect  # store/dialect.py: SqliteDialect or PostgresDialect

    async def function(self, project: str, fid: str, tx: Transaction | None = None) -> Function | None:
        r = await (tx or self.s).fetchone("SELECT * FROM functions WHERE project=? AND id=?", (project, fid))
        return _function(r) if r else None

    async def functions(self, project: str, limit: int, offset: int) -> tuple[int, list[Function]]:
        total = (await self.s.fetchone("SELECT COUNT(*) FROM functions WHERE project=?", (project,)))[0]
        rows = await self.s.fetchall("SELECT * FROM functions WHERE project=? ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (project, limit, offset))
        return int(total), [_function(r) for r in rows]

    async def event_functions(self, after: tuple[str, str] | None, limit: int) -> list[FunctionTrigger]:
        params: list[Any] = []
        events = self.d.json_value("spec", "events", params)
        where = [f"{self.d.json_value('spec', 'enabled', params)} = {self.d.value(True, params, True)}",
                 f"{events} <> {self.d.value([], params, True)}"]
        if after is not None:  # keyset paging on the primary key: each page is one index range
            where.append("(project, id) > (?, ?)")
            params.extend(after)
        rows = await self.s.fetchall(f"SELECT project, id, {events} AS events FROM functions"
                                     f" WHERE {' AND '.join(where)} ORDER BY project, id LIMIT ?", (*params, limit))
        return [FunctionTrigger(project=r["project"], function_id=r["id"], events=orjson.loads(r["events"]))
                for r in rows]

    async def insert_function(self, tx: Transaction, project: str, f: Function) -> None:
        try:
            await tx.execute("INSERT INTO functions (project, id, spec, created_at, updated_at) VALUES (?,?,?,?,?)",
                             (project, f.id, _spec(f), f.created_at, f.updated_at))
        except UniqueViolation:  # the caller checked; a request at the same moment took the id since
            raise AppwriteError("function_already_exists") from None

    async def save_function(self, tx: Transaction, project: str, f: Function) -> None:
        await tx.execute("UPDATE functions SET spec=?, updated_at=? WHERE project=? AND id=?",
                         (_spec(f), f.updated_at, project, f.id))

    async def delete_function(self, tx: Transaction, project: str, fid: str) -> None:
        await tx.execute("DELETE FROM executions WHERE project=? AND function_id=?", (project, fid))
        await tx.execute("DELETE FROM functions WHERE project=? AND id=?", (project, fid))

    async def execution(self, project: str, eid: str, tx: Transaction | None = None) -> Execution | None:
        r = await (tx or self.s).fetchone("SELECT model, user_id FROM executions WHERE project=? AND id=?", (project, eid))
        return _execution(r) if r else None

    async def save_execution(self, tx: Transaction, project: str, e: Execution, read_roles: list[str]) -> None:
        await tx.execute(
            "INSERT INTO executions (project, id, function_id, model, read_roles, user_id, created_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT (project, id) DO UPDATE SET model=excluded.model",
            (project, e.id, e.function_id, _document(e), _j(read_roles), e.user_id, e.created_at))

    async def delete_execution(self, tx: Transaction, project: str, eid: str) -> None:
        await tx.execute("DELETE FROM executions WHERE project=? AND id=?", (project, eid))

    async def executions(self, project: str, fid: str, read_filter: list[str] | None, limit: int,
                         offset: int) -> tuple[int, list[Execution]]:
        where, params = ["project=?", "function_id=?"], [project, fid]
        if read_filter is not None:
            where.append(self.d.any_role("read_roles", read_filter, params))
        w = " AND ".join(where)
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM executions WHERE {w}", params))[0]
        rows = await self.s.fetchall(f"SELECT model, user_id FROM executions WHERE {w} ORDER BY seq DESC LIMIT ? OFFSET ?",
                                     (*params, limit, offset))
        return int(total), [_execution(r) for r in rows]

    async def unfinished(self) -> list[tuple[str, Execution]]:
        rows = await self.s.fetchall(f"SELECT project, model, user_id FROM executions WHERE {self.d.field('model', 'status')}"
                                     " IN ('waiting', 'processing', 'scheduled')")
        found = []
        for r in rows:
            try:
                found.append((r["project"], _execution(r)))
            except (KeyError, TypeError, ValueError):  # a row no release of rtcli wrote: left as it is
                log.warning("execution row of project %s skipped: it cannot be read", r["project"])
        return found
