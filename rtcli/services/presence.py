"""Presence (Appwrite's Presences): who is here, with a status and metadata.

A signed-in realtime client sets its presence with a ``presence`` message (Web SDK
``upsertPresence``); the record lives as long as its connection: it is removed, with a
``delete`` event, when the connection closes, and its node refreshes it while the connection
lives, so that the presences of a node that died expire within ``REALTIME_TTL`` seconds. Over
REST (node SDK ``Presences``), an API key (or a user, for itself) upserts records with an
optional expiry. A changed status is one ``update`` event, never a leave plus a join.

Events: ``presences.P.create|update|delete`` on ``presences`` and ``presences.P``, readable by
the presence's read roles (default ``read("users")``) and always by its user.
"""

from __future__ import annotations

import time
from datetime import datetime, UTC

from rtcli import ids
from rtcli.core import channels, events, permissions
from rtcli.core.hub import Event
from rtcli.core.permissions import Actor
from rtcli.core.queries import parse_many, plan as list_plan
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx

REALTIME_TTL = 60.0
DEFAULT_PERMISSIONS = ['read("users")']


def presence_model(p: dict) -> dict:
    return {"$id": p["id"], "$createdAt": p["created_at"], "$updatedAt": p["updated_at"],
            "$permissions": p["permissions"], "userId": p["user_id"], "status": p["status"], "source": p["source"],
            "expiresAt": p["expires_at"], "metadata": p["metadata"]}


class Presence:
    def __init__(self, store, repo) -> None:
        self.store = store
        self.repo = repo
        self.live: set[str] = set()  # connections of this node that hold a presence

    @staticmethod
    def _roles(p: dict) -> list[str]:
        return sorted(permissions.roles_for("read", p["permissions"]) | {f"user:{p['user_id']}"})

    def _event(self, project: str, p: dict, action: str) -> Event:
        pid = p["id"]
        return Event(project=project, events=events.generate([("presences", pid)], action),
                     channels=channels.with_action(["presences", f"presences.{pid}"], action), roles=self._roles(p),
                     payload=presence_model(p), timestamp=ids.format_datetime(), user_id=p["user_id"])

    def _fields(self, actor: Actor, body: dict, p: dict) -> dict:
        if "status" in body or "status" not in p:
            status = body.get("status")
            if not isinstance(status, str) or not status or len(status) > 256:
                raise invalid("Invalid `status` param: a string of 1-256 characters.")
            p["status"] = status
        if "metadata" in body or "metadata" not in p:
            metadata = body.get("metadata") or {}
            if not isinstance(metadata, dict) or len(str(metadata)) > 16_384:
                raise invalid("Invalid `metadata` param: a JSON object under 16 KB.")
            p["metadata"] = metadata
        if body.get("permissions") is not None or "permissions" not in p:
            perms = permissions.parse_list(body.get("permissions") or DEFAULT_PERMISSIONS, ("read", "update", "delete", "write"))
            if not actor.is_key:
                Ctx("", actor).assert_can_grant([x for x in perms if x not in DEFAULT_PERMISSIONS])
            p["permissions"] = perms
        if "expiresAt" in body and body["expiresAt"]:
            try:
                when = datetime.fromisoformat(str(body["expiresAt"]).replace("Z", "+00:00"))
            except ValueError:
                raise invalid("Invalid `expiresAt` param: an ISO 8601 date.") from None
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            p["expires_ts"] = when.timestamp()
            p["expires_at"] = ids.format_datetime(p["expires_ts"])
        return p

    async def _upsert(self, project: str, actor: Actor, pid: str, user_id: str, body: dict, source: str,
                      connection: str = "") -> dict:
        now = ids.format_datetime()
        async with self.store.transaction() as tx:
            p = await self.repo.get(project, pid, tx)
            action = "update" if p else "create"
            if p is None:
                p = {"id": pid, "user_id": user_id, "source": source, "created_at": now, "expires_at": "",
                     "expires_ts": 0.0, "connection": connection}
            elif p["user_id"] != user_id and not actor.is_key:
                raise AppwriteError("user_unauthorized", "This presence belongs to another user.")
            p = self._fields(actor, body, p)
            p.update(updated_at=now, source=source, connection=connection or p.get("connection", ""))
            if connection:
                p["expires_ts"] = time.time() + REALTIME_TTL
                p["expires_at"] = ids.format_datetime(p["expires_ts"])
            await self.repo.save(tx, project, p, self._roles(p))
            await tx.append_event(self._event(project, p, action))
        if connection:
            self.live.add(connection)
        return presence_model(p)

    # --- realtime --------------------------------------------------------------------------

    async def from_connection(self, project: str, actor: Actor, connection: str, data: dict) -> dict:
        if actor.kind != "user" or not actor.user_id:
            raise AppwriteError("user_unauthorized", "Sign in to set a presence.")
        pid = data.get("presenceId") or ids.unique()
        if not ids.is_custom_id(pid):
            raise invalid("presenceId: at most 36 chars of a-z, A-Z, 0-9, period, hyphen, underscore.")
        return await self._upsert(project, actor, pid, actor.user_id, data, "realtime", connection)

    async def connection_closed(self, connection: str) -> None:
        if connection not in self.live:
            return
        self.live.discard(connection)
        for project, p in await self.repo.of_connection(connection):
            await self._delete(project, p)

    async def _delete(self, project: str, p: dict) -> None:
        async with self.store.transaction() as tx:
            if await self.repo.get(project, p["id"], tx) is None:
                return
            await self.repo.delete(tx, project, p["id"])
            await tx.append_event(self._event(project, p, "delete"))

    async def housekeeping(self) -> None:
        """Keep this node's connection presences alive; remove expired ones (any node's)."""
        expires = time.time() + REALTIME_TTL
        await self.repo.refresh(sorted(self.live), expires, ids.format_datetime(expires))
        for project, p in await self.repo.expired(time.time()):
            await self._delete(project, p)

    # --- REST --------------------------------------------------------------------------------

    def _require(self, ctx: Ctx, user_id: str | None) -> None:
        if ctx.actor.is_key:
            ctx.require_scope("presences.write")
        elif ctx.actor.kind != "user" or (user_id is not None and user_id != ctx.actor.user_id):
            raise AppwriteError("user_unauthorized", "A user may only set its own presence.")

    async def upsert(self, ctx: Ctx, pid: str, body: dict) -> dict:
        uid = body.get("userId") or ctx.actor.user_id
        if not isinstance(uid, str) or not uid:
            raise invalid("Invalid `userId` param: the user whose presence this is.")
        self._require(ctx, uid)
        if not ids.is_custom_id(pid):
            raise invalid("Invalid `presenceId` param.")
        return await self._upsert(ctx.project, ctx.actor, pid, uid, body, "api")

    async def update(self, ctx: Ctx, pid: str, body: dict) -> dict:
        p = await self.get_record(ctx, pid)
        self._require(ctx, p["user_id"])
        return await self._upsert(ctx.project, ctx.actor, pid, p["user_id"], body, p["source"], p["connection"])

    async def get_record(self, ctx: Ctx, pid: str) -> dict:
        p = await self.repo.get(ctx.project, pid)
        readable = p and (ctx.actor.is_key or ctx.actor.can(set(self._roles(p))))
        if not readable:
            raise AppwriteError("presence_not_found", f"Presence with the requested ID '{pid}' could not be found.")
        return p

    async def get(self, ctx: Ctx, pid: str) -> dict:
        return presence_model(await self.get_record(ctx, pid))

    async def list(self, ctx: Ctx, queries: list) -> dict:
        if ctx.actor.is_key:
            ctx.require_scope("presences.read")
        p = list_plan(parse_many(queries))
        read_filter = None if ctx.actor.is_key else sorted(ctx.actor.roles | {"any"})
        total, records = await self.repo.list(ctx.project, p, read_filter)
        return {"total": total, "presences": [presence_model(r) for r in records]}

    async def delete(self, ctx: Ctx, pid: str) -> None:
        p = await self.get_record(ctx, pid)
        self._require(ctx, p["user_id"])
        await self._delete(ctx.project, p)
