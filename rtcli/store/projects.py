"""Projects and their server API keys (SQLite and PostgreSQL): typed records, no policy."""

from __future__ import annotations

from typing import Any

import orjson

from rtcli.core.ports import Store, Transaction
from rtcli.core.records import ApiKey


def _key(r: Any) -> ApiKey:
    return ApiKey(project=r["project"], id=r["id"], name=r["name"], secret_hash=r["secret_hash"],
                  scopes=orjson.loads(r["scopes"]), created_at=r["created_at"])


class ProjectStore:
    """Implements core.repositories.ProjectRepository."""

    def __init__(self, store: Store) -> None:
        self.s = store

    async def project_ids(self) -> set[str]:
        return {r[0] for r in await self.s.fetchall("SELECT id FROM projects")}

    async def add_project(self, tx: Transaction, project: str, created_at: str) -> None:
        await tx.execute("INSERT INTO projects (id, name, created_at) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                         (project, project, created_at))

    async def all_keys(self) -> list[ApiKey]:
        return [_key(r) for r in await self.s.fetchall("SELECT * FROM api_keys")]

    async def keys(self, project: str) -> list[ApiKey]:
        rows = await self.s.fetchall("SELECT * FROM api_keys WHERE project=? ORDER BY created_at", (project,))
        return [_key(r) for r in rows]

    async def server_keys(self, project: str, secret_hash: str, key_id: str, name: str,
                          scopes: list[str]) -> list[ApiKey]:
        rows = await self.s.fetchall(
            "SELECT * FROM api_keys WHERE secret_hash=? OR (project=? AND (id=? OR (name=? AND scopes=?)))",
            (secret_hash, project, key_id, name, orjson.dumps(scopes).decode()))
        return [_key(r) for r in rows]

    async def insert_key(self, tx: Transaction, k: ApiKey) -> None:
        await tx.execute(
            "INSERT INTO api_keys (project, id, name, secret_hash, scopes, created_at) VALUES (?,?,?,?,?,?)",
            (k.project, k.id, k.name, k.secret_hash, orjson.dumps(k.scopes).decode(), k.created_at))

    async def delete_key(self, tx: Transaction, project: str, kid: str) -> bool:
        return await tx.execute("DELETE FROM api_keys WHERE project=? AND id=?", (project, kid)) > 0

    async def delete_keys(self, tx: Transaction, project: str, secret_hash: str, key_id: str) -> None:
        await tx.execute("DELETE FROM api_keys WHERE secret_hash=? OR (project=? AND id=?)",
                         (secret_hash, project, key_id))
