"""Projects and their server API keys.

Keys are long random strings; only their SHA-256 hash is stored (a slow hash buys nothing for
high-entropy secrets and would cost every request). The plain key of the default project is
kept in ``<data-dir>/api-key`` (mode 0600) so that ``rtcli serve`` can print it at each start.
"""

from __future__ import annotations

import hashlib
import secrets

import orjson

from rtcli import ids

ALL_SCOPES = ["*"]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "rtk_" + secrets.token_hex(24)


class Projects:
    def __init__(self, store) -> None:
        self.store = store
        self.known: set[str] = set()
        self.keys: dict[str, tuple[str, frozenset[str]]] = {}  # hash -> (project, scopes)

    async def load(self) -> None:
        self.known = {r[0] for r in await self.store.fetchall("SELECT id FROM projects")}
        self.keys = {r["secret_hash"]: (r["project"], frozenset(orjson.loads(r["scopes"])))
                     for r in await self.store.fetchall("SELECT * FROM api_keys")}

    async def ensure(self, project: str) -> None:
        if project in self.known:
            return
        async with self.store.transaction() as tx:
            await tx.execute("INSERT OR IGNORE INTO projects (id, name, created_at) VALUES (?,?,?)",
                             (project, project, ids.format_datetime()))
        self.known.add(project)

    async def ensure_key(self, project: str, key: str, name: str = "default") -> None:
        h = hash_key(key)
        if h in self.keys:
            return
        async with self.store.transaction() as tx:
            await tx.execute(
                "INSERT INTO api_keys (project, id, name, secret_hash, scopes, created_at) VALUES (?,?,?,?,?,?)",
                (project, ids.unique(), name, h, orjson.dumps(ALL_SCOPES).decode(), ids.format_datetime()))
        self.keys[h] = (project, frozenset(ALL_SCOPES))

    def key_scopes(self, project: str, key: str) -> frozenset[str] | None:
        """The scopes of a valid key of this project, or None."""
        found = self.keys.get(hash_key(key))
        if found is None or found[0] != project:
            return None
        return found[1]
