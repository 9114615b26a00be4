"""Projects and their server API keys.

Keys are long random strings; only their SHA-256 hash is stored (a slow hash buys nothing for
high-entropy secrets and would cost every request). The plain key of the default project is
kept in ``<data-dir>/api-key`` (mode 0600) so that ``rtcli serve`` can print it at each start.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from rtcli import ids
from rtcli.core.event import Controls, Event, Origin
from rtcli.core.permissions import Actor, ActorKind
from rtcli.core.ports import Store
from rtcli.core.repositories import ProjectRepository
from rtcli.core.records import ApiKey
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx

ALL_SCOPES = ["*"]
SERVER_KEY_ID = "server"  # the row of the server key; made keys have random hex ids


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "rtk_" + secrets.token_hex(24)


class Projects:
    def __init__(self, store: Store, repo: ProjectRepository) -> None:
        self.store = store
        self.repo = repo
        self.known: set[str] = set()
        self.keys: dict[str, tuple[str, frozenset[str]]] = {}  # hash -> (project, scopes)
        self.origins: dict[str, Origin] = {}  # hash of an execution key -> (function, depth)
        # Plain key -> (project, Actor) of the keys seen in requests: a server calls with the
        # same key every time, and hashing it and building its Actor cost ~5 us a request.
        # Emptied on any change to the keys (only this node's own changes reach self.keys).
        self._actors: dict[str, tuple[str, Actor]] = {}

    async def load(self) -> None:
        self.known = await self.repo.project_ids()
        keys = {k.secret_hash: (k.project, frozenset(k.scopes)) for k in await self.repo.all_keys()}
        # The keys of this node's running executions are never stored: keep them.
        keys.update((h, self.keys[h]) for h in self.origins if h in self.keys)
        self.keys = keys
        self._actors.clear()

    async def ensure(self, project: str) -> None:
        if project in self.known:
            return
        async with self.store.transaction() as tx:
            await self.repo.add_project(tx, project, ids.format_datetime())
        self.known.add(project)

    async def ensure_key(self, project: str, key: str, name: str = "default") -> None:
        """Make ``key`` the project's server key (``--api-key``, or the one in the data dir). A
        different server key from an earlier start stops working: rotating the key revokes the
        old one. The server key is the row ``SERVER_KEY_ID``; before it had one, it was a row
        named ``name`` with every scope, which is replaced the same way."""
        h = hash_key(key)
        rows = await self.repo.server_keys(project, h, SERVER_KEY_ID, name, ALL_SCOPES)
        if [(r.id, r.secret_hash) for r in rows] == [(SERVER_KEY_ID, h)]:
            return
        async with self.store.transaction() as tx:
            for r in rows:
                await self.repo.delete_keys(tx, project, r.secret_hash, SERVER_KEY_ID)
            # another node starting at the same time may have written the row meanwhile
            await self.repo.delete_keys(tx, project, h, SERVER_KEY_ID)
            await self.repo.insert_key(tx, ApiKey(project=project, id=SERVER_KEY_ID, name=name, secret_hash=h,
                                                  scopes=ALL_SCOPES, created_at=ids.format_datetime()))
            await tx.append_event(_keys_changed(project, SERVER_KEY_ID, "update"))  # other nodes reload
        for r in rows:
            self.drop_key(r.secret_hash)
        self.add_key(h, project, frozenset(ALL_SCOPES))

    def add_key(self, secret_hash: str, project: str, scopes: frozenset[str]) -> None:
        self.keys[secret_hash] = (project, scopes)
        self._actors.clear()

    def drop_key(self, secret_hash: str) -> None:
        self.keys.pop(secret_hash, None)
        self.origins.pop(secret_hash, None)
        self._actors.clear()

    def add_ephemeral(self, key: str, project: str, origin: Origin, scopes: frozenset[str]) -> None:
        """A key that lives for one function execution (never stored)."""
        h = hash_key(key)
        self.origins[h] = origin
        self.add_key(h, project, scopes)

    def remove_ephemeral(self, key: str) -> None:
        self.drop_key(hash_key(key))

    def key_actor(self, project: str, key: str) -> Actor | None:
        """The actor of a valid key of this project, or None."""
        hit = self._actors.get(key)
        if hit is None:
            h = hash_key(key)
            found = self.keys.get(h)
            if found is None:
                return None  # unknown keys are not remembered: they could fill the memory
            if len(self._actors) >= 1024:
                self._actors.clear()
            hit = self._actors[key] = (found[0], Actor(ActorKind.KEY, roles=frozenset(), scopes=found[1],
                                                       origin=self.origins.get(h)))
        return hit[1] if hit[0] == project else None


SCOPES = (
    "databases.read", "databases.write", "rows.read", "rows.write", "files.read", "files.write",
    "users.read", "users.write", "teams.read", "teams.write", "functions.read", "functions.write",
    "executions.read", "executions.write", "events.read", "keys.write", "presences.read", "presences.write",
    "topics.read", "topics.write", "health.read",
)


def _keys_changed(project: str, key_id: str, action: str) -> Event:
    """The log entry of a key change: on no channel and readable by no role (only API keys see it
    in the event log); every node reloads its keys when it dispatches it (server.app)."""
    return Event(project=project, events=[f"keys.{key_id}.{action}", f"keys.*.{action}", "keys.*"], channels=[],
                 roles=[], payload={"$id": key_id}, timestamp=ids.format_datetime(), controls=Controls(reload_keys=True))


def _beyond(held: frozenset[str], scopes: list[str]) -> list[str]:
    """The scopes of ``scopes`` a key holding ``held`` lacks: a key manages (makes, deletes) only
    keys no stronger than itself, and ``*`` only a key with ``*`` holds."""
    return [] if "*" in held else sorted(set(scopes) - held)


class Keys:
    """API keys of a project (rtcli extension: /v1/keys). The secret is shown once, at creation.
    A key with ``keys.write`` makes and deletes keys whose scopes are a subset of its own; the
    server key (``SERVER_KEY_ID``) is deleted by no one: it is replaced by starting the server
    with another ``--api-key``."""

    def __init__(self, store: Store, repo: ProjectRepository, projects: Projects) -> None:
        self.store = store
        self.repo = repo
        self.projects = projects

    @staticmethod
    def _model(k: ApiKey) -> dict[str, Any]:
        return {"$id": k.id, "$createdAt": k.created_at, "name": k.name, "scopes": k.scopes}

    async def create(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        ctx.require_key("keys.write")
        name = body.get("name") or "key"
        scopes = body.get("scopes")
        if not isinstance(name, str) or len(name) > 128:
            raise invalid("Invalid `name` param: Value must be a string of at most 128 characters.")
        if not isinstance(scopes, list) or not scopes or not all(s in SCOPES or s == "*" for s in scopes):
            raise invalid(f"Invalid `scopes` param: a non-empty list of: {', '.join(SCOPES)} (or *).")
        held = ctx.actor.scopes
        if extra := _beyond(held, scopes):
            raise AppwriteError("general_unauthorized_scope",
                                f"This API key cannot grant scopes it does not hold: {', '.join(extra)}. "
                                f"Ask for a subset of its own ({', '.join(sorted(held))}).")
        secret = new_key()
        k = ApiKey(project=ctx.project, id=ids.unique(), name=name, secret_hash=hash_key(secret),
                   scopes=list(dict.fromkeys(scopes)), created_at=ids.format_datetime())
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.repo.insert_key(tx, k)
            await tx.append_event(_keys_changed(ctx.project, k.id, "create"))
        self.projects.add_key(k.secret_hash, ctx.project, frozenset(k.scopes))
        return {**self._model(k), "secret": secret}

    async def list(self, ctx: Ctx) -> dict[str, Any]:
        ctx.require_key("keys.write")
        keys = await self.repo.keys(ctx.project)
        return {"total": len(keys), "keys": [self._model(k) for k in keys]}

    async def delete(self, ctx: Ctx, key_id: str) -> None:
        ctx.require_key("keys.write")
        keys = {k.id: k for k in await self.repo.keys(ctx.project)}
        if key_id not in keys:
            raise AppwriteError("key_not_found", f"Key with the requested ID '{key_id}' could not be found.")
        if key_id == SERVER_KEY_ID:
            raise invalid("The server key cannot be deleted: it is the key `rtcli serve` was started with "
                          "(--api-key, or the one kept in its data directory). To replace it, restart the server "
                          "with another --api-key: the old key then stops working.")
        held = ctx.actor.scopes
        if extra := _beyond(held, keys[key_id].scopes):
            raise AppwriteError("general_unauthorized_scope",
                                f"This API key cannot delete a key with scopes it does not hold: {', '.join(extra)}. "
                                f"It may delete keys whose scopes are a subset of its own ({', '.join(sorted(held))}).")
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.repo.delete_key(tx, ctx.project, key_id)
            await tx.append_event(_keys_changed(ctx.project, key_id, "delete"))
        self.projects.drop_key(keys[key_id].secret_hash)
