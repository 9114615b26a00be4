"""Presence records (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import orjson

from rtcli.core.ports import Store, Transaction
from rtcli.core.queries import ListPlan
from rtcli.core.records import Presence
from rtcli.store.sqlquery import where_clause

PRESENCE_ATTRIBUTES = {"$id": "id", "userId": "user_id", "status": "status", "source": "source",
                       "$createdAt": "created_at", "$updatedAt": "updated_at", "expiresAt": "expires_at"}


def _j(v: object) -> str:
    return orjson.dumps(v).decode()


def _presence(r: Any) -> Presence:
    return Presence(id=r["id"], user_id=r["user_id"], status=r["status"], source=r["source"],
                    metadata=orjson.loads(r["metadata"]), permissions=orjson.loads(r["permissions"]),
                    expires_at=r["expires_at"], expires_ts=r["expires_ts"], connection=r["connection"],
                    created_at=r["created_at"], updated_at=r["updated_at"])


class PresenceStore:
    """Implements core.repositories.PresenceRepository. ``read_roles`` holds who may read each
    presence, the column a user's list is filtered by."""

    def __init__(self, store: Store) -> None:
        self.s = store
        self.d: Any = store.dialect  # store/dialect.py: SqliteDialect or PostgresDialect

    async def get(self, project: str, pid: str, tx: Transaction | None = None) -> Presence | None:
        r = await (tx or self.s).fetchone("SELECT * FROM presences WHERE project=? AND id=?", (project, pid))
        return _presence(r) if r else None

    async def of_user(self, project: str, user_id: str, tx: Transaction | None = None) -> Presence | None:
        r = await (tx or self.s).fetchone("SELECT * FROM presences WHERE project=? AND user_id=? LIMIT 1",
                                          (project, user_id))
        return _presence(r) if r else None

    async def insert(self, tx: Transaction, project: str, p: Presence, read_roles: list[str]) -> None:
        await tx.execute(
            "INSERT INTO presences (project, id, user_id, status, source, metadata, permissions, read_roles,"
            " expires_at, expires_ts, connection, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (project, p.id, p.user_id, p.status, p.source, _j(p.metadata), _j(p.permissions), _j(read_roles),
             p.expires_at, p.expires_ts, p.connection, p.created_at, p.updated_at))

    async def save(self, tx: Transaction, project: str, p: Presence, read_roles: list[str]) -> None:
        await tx.execute(
            "UPDATE presences SET user_id=?, status=?, source=?, metadata=?, permissions=?, read_roles=?,"
            " expires_at=?, expires_ts=?, connection=?, updated_at=? WHERE project=? AND id=?",
            (p.user_id, p.status, p.source, _j(p.metadata), _j(p.permissions), _j(read_roles), p.expires_at,
             p.expires_ts, p.connection, p.updated_at, project, p.id))

    async def delete(self, tx: Transaction, project: str, pid: str) -> None:
        await tx.execute("DELETE FROM presences WHERE project=? AND id=?", (project, pid))

    async def expired(self, now: float) -> list[tuple[str, Presence]]:
        rows = await self.s.fetchall("SELECT * FROM presences WHERE expires_ts > 0 AND expires_ts < ?", (now,))
        return [(r["project"], _presence(r)) for r in rows]

    async def of_connection(self, connection: str) -> list[tuple[str, Presence]]:
        rows = await self.s.fetchall("SELECT * FROM presences WHERE connection=?", (connection,))
        return [(r["project"], _presence(r)) for r in rows]

    async def of_source(self, source: str) -> list[tuple[str, Presence]]:
        rows = await self.s.fetchall("SELECT * FROM presences WHERE source=?", (source,))
        return [(r["project"], _presence(r)) for r in rows]

    async def refresh(self, connections: list[str], expires_ts: float, expires_at: str) -> None:
        if not connections:
            return
        marks = ",".join("?" for _ in connections)
        async with self.s.transaction() as tx:
            await tx.execute(f"UPDATE presences SET expires_ts=?, expires_at=? WHERE connection IN ({marks})",
                             (expires_ts, expires_at, *connections))

    async def list(self, project: str, plan: ListPlan, read_filter: list[str] | None) -> tuple[int, list[Presence]]:
        where, params = ["project=?"], [project]
        if read_filter is not None:
            where.append(self.d.any_role("read_roles", read_filter, params))
        for q in plan.filters:
            where.append(where_clause(self.d, q, params, set(), PRESENCE_ATTRIBUTES))
        w = " AND ".join(where)
        total = int((await self.s.fetchone(f"SELECT COUNT(*) FROM presences WHERE {w}", params))[0])
        rows = await self.s.fetchall(f"SELECT * FROM presences WHERE {w} ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (*params, plan.limit, plan.offset))
        return total, [_presence(r) for r in rows]
