"""Presence (Appwrite's Presences): who is here, with a status and metadata.

A signed-in realtime client sets its presence with a ``presence`` message (Web SDK
``upsertPresence``); the record lives as long as its connection: it is removed, with a
``delete`` event, when the connection closes, and its node refreshes it while the connection
lives, so that the presences of a node that died expire within ``REALTIME_TTL`` seconds. Over
REST (server SDKs' ``Presences``), an API key sets any user's presence, a user its own.

As in Appwrite: a user has one presence (an upsert under another id updates it, keeping its id);
without permissions it is readable, updatable and deletable by its user alone; whoever holds
update (or delete) permission on it may update (or delete) it; a key's update may give it to
another user, who then owns it. Events: ``presences.P.upsert`` for an upsert (REST PUT or the
realtime message), ``.update`` for a REST PATCH, ``.delete``; on ``presences`` and
``presences.P``, readable by the presence's read roles.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, UTC
from typing import Any

from rtcli import ids
from rtcli.core import channels, events, permissions
from rtcli.core.event import Event, Origin
from rtcli.core.permissions import Actor, ActorKind
from rtcli.core.ports import Store
from rtcli.core.repositories import PresenceRepository
from rtcli.core.queries import parse_many, plan as list_plan
from rtcli.core.records import Presence as PresenceRecord
from rtcli.errors import AppwriteError, UniqueViolation, invalid
from rtcli.services import users_input
from rtcli.services.context import Ctx

REALTIME_TTL = 60.0
MAX_METADATA = 16_384
MAX_EXPIRY_AHEAD = 365 * 86400.0  # seconds
CLOCK_SKEW = 60.0  # seconds a client's clock may lag behind the server's
OWNER_ACTIONS = ("read", "update", "delete", "write")
NOT_AUTHORIZED = "The current user is not authorized to perform the requested action."
Queries = list[Any]  # the request's query strings (a name: ``list`` is a method of Presence)


def owner_permissions(user_id: str) -> list[str]:
    """Appwrite's default: every presence action for its user alone (sorted as Appwrite sorts)."""
    return sorted(f'{action}("user:{user_id}")' for action in OWNER_ACTIONS)


def presence_model(p: PresenceRecord) -> dict[str, Any]:
    return {"$id": p.id, "$createdAt": p.created_at, "$updatedAt": p.updated_at,
            "$permissions": p.permissions, "userId": p.user_id, "status": p.status, "source": p.source,
            "expiresAt": p.expires_at, "metadata": p.metadata}


def _changes(actor: Actor, body: dict[str, Any], p: PresenceRecord, new: bool, upsert: bool) -> PresenceRecord:
    """``p`` with the request's fields. A new presence needs a status; an upsert replaces the
    metadata and permissions it does not give (with none, and its user's), an update keeps them."""
    status, metadata, perms = p.status, p.metadata, p.permissions
    expires_ts, expires_at = p.expires_ts, p.expires_at
    if new or "status" in body:
        given_status = body.get("status")
        if not isinstance(given_status, str) or not given_status or len(given_status) > 2048:
            raise invalid("Invalid `status` param: Value must be a valid string and at least 1 chars and no "
                          "longer than 2048 chars")
        status = given_status
    if upsert or "metadata" in body:
        metadata = users_input.json_object(body.get("metadata") or {}, "metadata", MAX_METADATA)
    if body.get("permissions") is not None:
        given = permissions.parse_list(body["permissions"], OWNER_ACTIONS)
        if not actor.is_key:
            Ctx("", actor).assert_can_grant(given)
        perms = sorted(given)
    elif upsert:
        perms = owner_permissions(p.user_id)
    if "expiresAt" in body and body["expiresAt"]:
        expires_ts = _expiry(body["expiresAt"], time.time())
        expires_at = ids.format_datetime(expires_ts)
    return replace(p, status=status, metadata=metadata, permissions=perms, expires_ts=expires_ts,
                   expires_at=expires_at)


def _expiry(value: object, now: float) -> float:
    """The time ``expiresAt`` names, if it is one a presence may have: ahead of now (a clock
    skew aside) and at most ``MAX_EXPIRY_AHEAD`` ahead. A year-9999 date with a negative offset
    is year 10000 in UTC, which no ISO 8601 parser reads back; one before 1970 meant "never"."""
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    ts = None if when is None else (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if ts is None or not now - CLOCK_SKEW <= ts <= now + MAX_EXPIRY_AHEAD:
        raise invalid(f"Invalid `expiresAt` param: an ISO 8601 date in the future, at most "
                      f"{MAX_EXPIRY_AHEAD / 86400:.0f} days ahead (such as 2030-01-01T12:00:00Z).")
    return ts


class Presence:
    def __init__(self, store: Store, repo: PresenceRepository) -> None:
        self.store = store
        self.repo = repo
        self.live: set[str] = set()  # connections of this node that hold a presence

    @staticmethod
    def _roles(p: PresenceRecord) -> list[str]:
        return sorted(permissions.roles_for("read", p.permissions))

    def _event(self, project: str, p: PresenceRecord, action: str) -> Event:
        pid = p.id
        return Event(project=project, events=events.generate([("presences", pid)], action),
                     channels=channels.with_action(["presences", f"presences.{pid}"], action), roles=self._roles(p),
                     payload=presence_model(p), timestamp=ids.format_datetime(), user_id=p.user_id)

    async def _upsert(self, project: str, actor: Actor, pid: str, user_id: str, body: dict[str, Any], source: str,
                      connection: str = "") -> dict[str, Any]:
        """The user's one presence: updated when it exists (keeping its id), else made under ``pid``."""
        try:
            return await self._upsert_once(project, actor, pid, user_id, body, source, connection)
        except UniqueViolation:
            # A request at the same moment (on PostgreSQL) made the user's presence, or took
            # ``pid``, after this one looked: looking again finds what it made.
            return await self._upsert_once(project, actor, pid, user_id, body, source, connection)

    async def _upsert_once(self, project: str, actor: Actor, pid: str, user_id: str, body: dict[str, Any],
                           source: str, connection: str) -> dict[str, Any]:
        now = ids.format_datetime()
        async with self.store.transaction(actor.origin) as tx:
            p = await self.repo.of_user(project, user_id, tx)
            new = p is None
            if p is None:
                if await self.repo.get(project, pid, tx) is not None:  # another user's
                    raise AppwriteError("presence_already_exists",
                                        f"Presence with the requested ID '{pid}' already exists.")
                p = PresenceRecord(id=pid, user_id=user_id, status="", source=source, metadata={}, permissions=[],
                                   expires_at="", expires_ts=0.0, connection=connection, created_at=now,
                                   updated_at=now)
            p = _changes(actor, body, p, new=new, upsert=True)
            p = replace(p, updated_at=now, source=source, connection=connection or p.connection)
            if connection:
                expires_ts = time.time() + REALTIME_TTL
                p = replace(p, expires_ts=expires_ts, expires_at=ids.format_datetime(expires_ts))
            await (self.repo.insert if new else self.repo.save)(tx, project, p, self._roles(p))
            await tx.append_event(self._event(project, p, "upsert"))
        if connection:
            self.live.add(connection)
        return presence_model(p)

    # --- realtime --------------------------------------------------------------------------

    async def from_connection(self, project: str, actor: Actor, connection: str,
                              data: dict[str, Any]) -> dict[str, Any]:
        if actor.kind is not ActorKind.USER or not actor.user_id:
            raise AppwriteError("user_unauthorized", "User must be authorized")
        perms = data.get("permissions")
        if perms is not None and (not isinstance(perms, list) or not all(isinstance(x, str) for x in perms)):
            raise invalid("permissions: Permissions must be an array of strings")
        pid = data.get("presenceId") or "unique()"
        pid = ids.unique() if pid == "unique()" else pid
        if not ids.is_custom_id(pid):
            raise invalid("presenceId: Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, "
                          "period, hyphen, and underscore. Can't start with a special char")
        return await self._upsert(project, actor, pid, actor.user_id, data, "realtime", connection)

    async def connection_closed(self, connection: str) -> None:
        if connection not in self.live:
            return
        self.live.discard(connection)
        for project, p in await self.repo.of_connection(connection):
            await self._delete(project, p)

    async def _delete(self, project: str, p: PresenceRecord, origin: Origin | None = None) -> None:
        async with self.store.transaction(origin) as tx:
            if await self.repo.get(project, p.id, tx) is None:
                return
            await self.repo.delete(tx, project, p.id)
            await tx.append_event(self._event(project, p, "delete"))

    async def housekeeping(self) -> None:
        """Keep this node's connection presences alive; remove expired ones (any node's)."""
        expires = time.time() + REALTIME_TTL
        await self.repo.refresh(sorted(self.live), expires, ids.format_datetime(expires))
        for project, p in await self.repo.expired(time.time()):
            await self._delete(project, p)

    async def forget_realtime(self) -> None:
        """Remove every presence set over a realtime connection (with its event): at the start
        of a single node, those of a previous run are stale, their connections gone."""
        for project, p in await self.repo.of_source("realtime"):
            await self._delete(project, p)

    # --- REST --------------------------------------------------------------------------------

    @staticmethod
    def _no_user_id(ctx: Ctx, body: dict[str, Any]) -> None:
        """Only an API key names the user (a user may name itself)."""
        uid = body.get("userId")
        if uid is not None and not ctx.actor.is_key and uid != ctx.actor.user_id:
            raise AppwriteError("general_unauthorized_scope",
                                "userId is not allowed for non-API key and non-privileged users")

    @staticmethod
    def _writer(ctx: Ctx) -> None:
        if ctx.actor.is_key:
            ctx.require_scope("presences.write")
        elif ctx.actor.kind is not ActorKind.USER:
            raise AppwriteError("general_unauthorized_scope", 'User (role: guests) missing scopes (["presences.write"])')

    async def upsert(self, ctx: Ctx, pid: str, body: dict[str, Any]) -> dict[str, Any]:
        self._writer(ctx)
        self._no_user_id(ctx, body)
        uid = body.get("userId") if ctx.actor.is_key else ctx.actor.user_id
        if ctx.actor.is_key and not uid:
            raise AppwriteError("general_bad_request", "userId is required for API key authentication")
        if not isinstance(uid, str) or not ids.is_custom_id(uid):
            raise invalid("Invalid `userId` param: Parameter must contain at most 36 chars. Valid chars are a-z, "
                          "A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
        if not ids.is_custom_id(pid):
            raise invalid("Invalid `presenceId` param: Parameter must contain at most 36 chars. Valid chars are "
                          "a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
        return await self._upsert(ctx.project, ctx.actor, pid, uid, body, "rest")

    def _may(self, ctx: Ctx, action: str, p: PresenceRecord) -> None:
        if not ctx.actor.can(permissions.roles_for(action, p.permissions)):
            raise AppwriteError("user_unauthorized", NOT_AUTHORIZED)

    async def update(self, ctx: Ctx, pid: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH: whoever may update it; a key may also give it to another user (who then owns
        it, unless permissions are given)."""
        self._writer(ctx)
        self._no_user_id(ctx, body)
        p = await self.get_record(ctx, pid)
        self._may(ctx, "update", p)
        now = ids.format_datetime()
        async with self.store.transaction(ctx.actor.origin) as tx:
            current = await self.repo.get(ctx.project, pid, tx)
            if current is None:  # deleted since it was read
                raise AppwriteError("presence_not_found", f"Presence with the requested ID '{pid}' could not be found.")
            p = current
            new_owner = body.get("userId") if ctx.actor.is_key else None
            if new_owner is not None and new_owner != p.user_id:
                if not isinstance(new_owner, str) or not ids.is_custom_id(new_owner):
                    raise invalid("Invalid `userId` param: Parameter must contain at most 36 chars.")
                if await self.repo.of_user(ctx.project, new_owner, tx) is not None:
                    raise AppwriteError("presence_already_exists",
                                        f"User '{new_owner}' already has a presence: a user has one.")
                p = replace(p, user_id=new_owner)
                if body.get("permissions") is None:
                    p = replace(p, permissions=owner_permissions(new_owner))
            p = _changes(ctx.actor, {k: v for k, v in body.items() if k != "userId"}, p, new=False, upsert=False)
            p = replace(p, updated_at=now)
            try:
                await self.repo.save(tx, ctx.project, p, self._roles(p))
            except UniqueViolation:  # the new owner made a presence since the check above
                raise AppwriteError("presence_already_exists",
                                    f"User '{new_owner}' already has a presence: a user has one.") from None
            await tx.append_event(self._event(ctx.project, p, "update"))
        return presence_model(p)

    async def get_record(self, ctx: Ctx, pid: str) -> PresenceRecord:
        p = await self.repo.get(ctx.project, pid)
        if p is None or not (ctx.actor.is_key or ctx.actor.can(set(self._roles(p)))):
            raise AppwriteError("presence_not_found", f"Presence with the requested ID '{pid}' could not be found.")
        return p

    async def get(self, ctx: Ctx, pid: str) -> dict[str, Any]:
        if ctx.actor.is_key:
            ctx.require_scope("presences.read")
        return presence_model(await self.get_record(ctx, pid))

    async def list(self, ctx: Ctx, queries: Queries) -> dict[str, Any]:
        if ctx.actor.is_key:
            ctx.require_scope("presences.read")
        p = list_plan(parse_many(queries))
        read_filter = None if ctx.actor.is_key else sorted(ctx.actor.roles | {"any"})
        total, records = await self.repo.list(ctx.project, p, read_filter)
        return {"total": total, "presences": [presence_model(r) for r in records]}

    async def delete(self, ctx: Ctx, pid: str) -> None:
        self._writer(ctx)
        p = await self.get_record(ctx, pid)
        self._may(ctx, "delete", p)
        await self._delete(ctx.project, p, ctx.actor.origin)
