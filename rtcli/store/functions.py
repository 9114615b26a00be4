"""Functions and executions (SQLite and PostgreSQL): plain records."""

from __future__ import annotations

import orjson

from rtcli.core.ports import Transaction



def _j(v) -> str:
    return orjson.dumps(v).decode()


class FunctionsStore:
    def __init__(self, store) -> None:
        self.s = store
        self.d = store.dialect

    async def function(self, project: str, fid: str, tx=None) -> dict | None:
        sql, p = "SELECT * FROM functions WHERE project=? AND id=?", (project, fid)
        r = await (tx.fetchone(sql, p) if tx else self.s.fetchone(sql, p))
        return {**orjson.loads(r["spec"]), "id": r["id"], "created_at": r["created_at"],
                "updated_at": r["updated_at"]} if r else None

    async def functions(self, project: str | None, limit: int = 1000, offset: int = 0) -> tuple[int, list[dict]]:
        where, params = ("project=?", (project,)) if project else ("1=1", ())
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM functions WHERE {where}", params))[0]
        rows = await self.s.fetchall(f"SELECT * FROM functions WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (*params, limit, offset))
        return total, [{**orjson.loads(r["spec"]), "id": r["id"], "project": r["project"],
                        "created_at": r["created_at"], "updated_at": r["updated_at"]} for r in rows]

    async def save_function(self, tx: Transaction, project: str, f: dict) -> None:
        spec = {k: v for k, v in f.items() if k not in ("id", "created_at", "updated_at", "project")}
        await tx.execute(
            "INSERT INTO functions (project, id, spec, created_at, updated_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT (project, id) DO UPDATE SET spec=excluded.spec, updated_at=excluded.updated_at",
            (project, f["id"], _j(spec), f["created_at"], f["updated_at"]))

    async def delete_function(self, tx: Transaction, project: str, fid: str) -> None:
        await tx.execute("DELETE FROM executions WHERE project=? AND function_id=?", (project, fid))
        await tx.execute("DELETE FROM functions WHERE project=? AND id=?", (project, fid))

    async def delete_execution(self, tx: Transaction, project: str, eid: str) -> None:
        await tx.execute("DELETE FROM executions WHERE project=? AND id=?", (project, eid))

    async def execution(self, project: str, eid: str, tx=None) -> dict | None:
        sql, p = "SELECT model FROM executions WHERE project=? AND id=?", (project, eid)
        r = await (tx.fetchone(sql, p) if tx else self.s.fetchone(sql, p))
        return orjson.loads(r[0]) if r else None

    async def save_execution(self, tx: Transaction, project: str, model: dict, read_roles: list[str]) -> None:
        await tx.execute(
            "INSERT INTO executions (project, id, function_id, model, read_roles, created_at) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (project, id) DO UPDATE SET model=excluded.model",
            (project, model["$id"], model["resourceId"], _j(model), _j(read_roles), model["$createdAt"]))

    async def executions(self, project: str, fid: str, read_filter: list[str] | None, limit: int,
                         offset: int) -> tuple[int, list[dict]]:
        where, params = ["project=?", "function_id=?"], [project, fid]
        if read_filter is not None:
            where.append(self.d.any_role("read_roles", read_filter, params))
        w = " AND ".join(where)
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM executions WHERE {w}", params))[0]
        rows = await self.s.fetchall(f"SELECT model FROM executions WHERE {w} ORDER BY seq DESC LIMIT ? OFFSET ?",
                                     (*params, limit, offset))
        return total, [orjson.loads(r[0]) for r in rows]

    async def unfinished(self) -> list[tuple[str, dict]]:
        rows = await self.s.fetchall(f"SELECT project, model FROM executions WHERE {self.d.field('model', 'status')}"
                                     " IN ('waiting', 'processing', 'scheduled')")
        return [(r[0], orjson.loads(r[1])) for r in rows]
