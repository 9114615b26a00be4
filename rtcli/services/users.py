"""Users API use cases (``/v1/users``): a server (API key) creates, finds, changes and removes users.

Every call needs an API key with ``users.read`` or ``users.write``. Changes emit Appwrite's
events in the same transaction: ``users.U.update.<field>``, ``users.U.delete``,
``users.U.sessions.S.create|delete``, ``users.U.tokens.T.create`` (creating a user emits none,
as in Appwrite). They reach only that user (role ``user:U``) on the ``account`` and
``account.U`` channels; their payload is the account model, without the password hash that
the REST response carries.

What a change does to the user's live connections is applied by the hub before matching:
labels and verification refresh the user's roles (``label:x``, ``users/verified``); blocking
first tells the user, then leaves its connections with no role until it is unblocked; deleting
a user or a session revokes the connections signed in with it.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import replace
from typing import Any

from rtcli import ids
from rtcli.core.event import Controls, Event
from rtcli.core.ports import Store, Transaction
from rtcli.core.repositories import TeamRepository, UserRepository
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Session, TokenRecord, UserRecord
from rtcli.errors import AppwriteError, invalid
from rtcli.services import auth, hashes
from rtcli.services import users_input as check
from rtcli.services.account import new_session, session_model, user_event
from rtcli.services.context import Ctx
from rtcli.services.teams import membership_model

MAX_SEARCH = 256
_TOKEN_CHARS = string.ascii_letters + string.digits
Queries = list[Any]  # the request's query strings (a name: ``list`` is a method of Users)


def _not_found(uid: str) -> AppwriteError:
    return AppwriteError("user_not_found", f"User with the requested ID '{uid}' could not be found.")


def _roles_only(project: str, uid: str, roles: frozenset[str]) -> Event:
    """A change of a user's roles on its live connections alone: on no channel, for no reader
    (an rtcli event name; only API keys see it, in the event log)."""
    return Event(project=project, events=[f"users.{uid}.roles", "users.*.roles"], channels=[], roles=[],
                 payload={"$id": uid}, timestamp=ids.format_datetime(), user_id=uid,
                 controls=Controls(refresh_roles=(uid, roles)))


class Users:
    def __init__(self, store: Store, repo: UserRepository, teams: TeamRepository, authn: auth.Auth) -> None:
        self.store = store
        self.repo = repo
        self.teams = teams
        self.auth = authn

    async def _user(self, ctx: Ctx, uid: str, tx: Transaction | None = None) -> UserRecord:
        user = await self.repo.get_user(ctx.project, uid, tx)
        if user is None:
            raise _not_found(uid)
        return user

    async def _roles(self, ctx: Ctx, u: UserRecord, tx: Transaction) -> frozenset[str]:
        return await self.auth.roles(ctx.project, u, tx)

    # --- create ------------------------------------------------------------------------------------

    async def create(self, ctx: Ctx, body: dict[str, Any], kind: hashes.Algorithm | None = None) -> dict[str, Any]:
        """POST /users (``kind`` None: a plain password, hashed here) or /users/<algorithm> (an
        imported hash, verified with that algorithm when the user signs in)."""
        ctx.require_key("users.write")
        uid = check.user_id(body.get("userId"))
        if kind is None:
            email = check.email(body.get("email"), required=False)
            phone = check.phone(body.get("phone"))
            pw = body.get("password")
            stored = await hashes.argon2(check.password(pw)) if pw not in (None, "") else hashes.PasswordHash(None)
        else:
            email, phone = check.email(body.get("email"), required=True), None
            stored = check.imported_hash(kind, body)
        now = ids.format_datetime()
        user = UserRecord(id=uid, email=email, phone=phone, name=check.name(body.get("name")), registration=now,
                          created_at=now, updated_at=now, accessed_at=now, password_hash=stored.value,
                          hash=stored.algorithm.value, hash_options=stored.options,
                          password_update=now if stored.value else "")
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.repo.add_user(tx, ctx.project, user)
        return check.user_model(user)

    # --- read --------------------------------------------------------------------------------------

    async def list(self, ctx: Ctx, queries: Queries, search: str, with_total: bool = True) -> dict[str, Any]:
        """``with_total`` False: ``total`` is 0, as Appwrite answers ``total=false``."""
        ctx.require_key("users.read")
        if len(search) > MAX_SEARCH:
            raise invalid(f"Invalid `search` param: Value must be a valid string and at most {MAX_SEARCH} chars")
        total, users = await self.repo.list_users(ctx.project, list_plan(parse_many(queries)), search)
        return {"total": total if with_total else 0, "users": [check.user_model(u) for u in users]}

    async def get(self, ctx: Ctx, uid: str) -> dict[str, Any]:
        ctx.require_key("users.read")
        return check.user_model(await self._user(ctx, uid))

    async def prefs(self, ctx: Ctx, uid: str) -> dict[str, Any]:
        ctx.require_key("users.read")
        return (await self._user(ctx, uid)).prefs or {}

    async def memberships(self, ctx: Ctx, uid: str) -> dict[str, Any]:
        ctx.require_key("users.read")
        user = await self._user(ctx, uid)
        out = []
        for m in await self.teams.memberships_of(ctx.project, uid):
            team = await self.teams.get(ctx.project, m.team_id)
            if team is not None:
                out.append(membership_model(m, user, team))
        return {"total": len(out), "memberships": out}

    # --- update ------------------------------------------------------------------------------------

    async def update(self, ctx: Ctx, uid: str, field: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH /users/U/<field> (PUT for labels); emits ``users.U.update.<field>``."""
        ctx.require_key("users.write")
        new_password = None
        if field == "password":
            pw = body.get("password")
            if not isinstance(pw, str):
                raise invalid("Invalid `password` param: Value must be a string (empty to remove the password).")
            new_password = await hashes.argon2(check.password(pw)) if pw else hashes.PasswordHash(None)
        async with self.store.transaction(ctx.actor.origin) as tx:
            user = await self._user(ctx, uid, tx)
            changes, events = self._changes(field, body, new_password)
            user = replace(user, **changes)
            if field == "email" and user.email and await self.repo.taken(ctx.project, "email", user.email, uid, tx):
                raise AppwriteError("user_email_already_exists")
            if field == "phone" and user.phone and await self.repo.taken(ctx.project, "phone", user.phone, uid, tx):
                raise AppwriteError("user_phone_already_exists")
            user = replace(user, updated_at=ids.format_datetime())
            await self.repo.save_user(tx, ctx.project, user)
            event = user_event(ctx.project, uid, f"users.{uid}.update.{events}", check.account_payload(user))
            if field in ("labels", "verification", "status") and user.status:
                event.controls = Controls(refresh_roles=(uid, await self._roles(ctx, user, tx)))
                event.permissions_changed = True
            await tx.append_event(event)
            if field == "status" and not user.status:
                # The user hears that it is blocked; then its connections keep no role.
                await tx.append_event(_roles_only(ctx.project, uid, frozenset()))
        return check.user_model(user)

    @staticmethod
    def _changes(field: str, body: dict[str, Any], new_password: hashes.PasswordHash | None) -> tuple[dict[str, Any], str]:
        """The fields of the user that the request changes, and the event's attribute."""
        if field == "name":
            return {"name": check.name(body.get("name"))}, field
        if field == "email":
            return {"email": check.email(body.get("email"), required=True), "email_verification": False}, field
        if field == "phone":
            return {"phone": check.phone(body.get("number"), "number"), "phone_verification": False}, field
        if field == "password" and new_password is not None:
            return {"password_hash": new_password.value, "hash": new_password.algorithm.value, "hash_options": {},
                    "password_update": ids.format_datetime()}, field
        if field == "status":
            return {"status": check.boolean(body, "status")}, field
        if field == "labels":
            return {"labels": check.labels(body.get("labels"))}, field
        if field == "prefs":
            return {"prefs": check.prefs(body.get("prefs"))}, field
        if field == "verification":
            return {"email_verification": check.boolean(body, "emailVerification")}, field
        if field == "verification/phone":
            return {"phone_verification": check.boolean(body, "phoneVerification")}, "verification"
        raise AppwriteError("general_route_not_found")

    # --- delete ------------------------------------------------------------------------------------

    async def delete(self, ctx: Ctx, uid: str) -> None:
        ctx.require_key("users.write")
        async with self.store.transaction(ctx.actor.origin) as tx:
            user = await self._user(ctx, uid, tx)
            sessions = [s for s in await self.repo.sessions_of(ctx.project, uid)]
            await self.repo.delete_user(tx, ctx.project, uid)
            await tx.append_event(user_event(ctx.project, uid, f"users.{uid}.delete", check.account_payload(user)))
            # The user's connections lose every role, whichever session or JWT they signed in with.
            await tx.append_event(_roles_only(ctx.project, uid, frozenset()))
            for s in sessions:
                await tx.append_event(self._session_event(ctx, uid, s, "delete"))

    # --- sessions, tokens, JWTs --------------------------------------------------------------------

    @staticmethod
    def _session_event(ctx: Ctx, uid: str, s: Session, action: str) -> Event:
        extra = {"controls": Controls(revoke_session=s.id)} if action == "delete" else {}
        return user_event(ctx.project, uid, f"users.{uid}.sessions.{s.id}.{action}", session_model(s, None), **extra)

    async def list_sessions(self, ctx: Ctx, uid: str) -> dict[str, Any]:
        ctx.require_key("users.read")
        await self._user(ctx, uid)
        sessions = await self.repo.sessions_of(ctx.project, uid)
        return {"total": len(sessions), "sessions": [session_model(s, None) for s in sessions]}

    async def create_session(self, ctx: Ctx, uid: str, ip: str, user_agent: str) -> dict[str, Any]:
        """A session made by the server (provider ``server``); its ``secret`` is the session token."""
        ctx.require_key("users.write")
        s, secret = new_session(uid, "server", ip, user_agent)
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self._user(ctx, uid, tx)
            await self.repo.insert_session(tx, ctx.project, s)
            await tx.append_event(self._session_event(ctx, uid, s, "create"))
        return {**session_model(s, None, auth.encode_token(uid, secret)), "factors": ["server"]}

    async def delete_session(self, ctx: Ctx, uid: str, sid: str) -> None:
        ctx.require_key("users.write")
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self._user(ctx, uid, tx)
            s = await self.repo.session(ctx.project, sid, tx)
            if s is None or s.user_id != uid:
                raise AppwriteError("user_session_not_found")
            await self.repo.delete_session(tx, ctx.project, sid)
            await tx.append_event(self._session_event(ctx, uid, s, "delete"))

    async def delete_sessions(self, ctx: Ctx, uid: str) -> None:
        ctx.require_key("users.write")
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self._user(ctx, uid, tx)
            for s in await self.repo.sessions_of(ctx.project, uid):
                await self.repo.delete_session(tx, ctx.project, s.id)
                await tx.append_event(self._session_event(ctx, uid, s, "delete"))

    async def create_token(self, ctx: Ctx, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        """A one-time secret the user exchanges for a session (POST /account/sessions/token)."""
        ctx.require_key("users.write")
        length = check.bounded_int(body, "length", 6, 4, 128)
        expire = check.bounded_int(body, "expire", 900, 60, 31_536_000)
        secret = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(length))
        now, expire_ts = ids.format_datetime(), time.time() + expire
        token = TokenRecord(id=ids.unique(), user_id=uid, secret_hash=auth.hash_secret(secret),
                            expire=ids.format_datetime(expire_ts), expire_ts=expire_ts, created_at=now)
        model = {"$id": token.id, "$createdAt": now, "userId": uid, "secret": secret, "expire": token.expire,
                 "phrase": ""}
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self._user(ctx, uid, tx)
            await self.repo.add_token(tx, ctx.project, token)
            await tx.append_event(user_event(ctx.project, uid, f"users.{uid}.tokens.{token.id}.create",
                                             {**model, "secret": ""}))
        return model

    async def create_jwt(self, ctx: Ctx, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        ctx.require_key("users.write")
        await self._user(ctx, uid)
        duration = check.bounded_int(body, "duration", auth.JWT_SECONDS, 0, 3600)
        sid = body.get("sessionId") or None
        if sid == "recent":
            sessions = await self.repo.sessions_of(ctx.project, uid)
            sid = sessions[-1].id if sessions else None
        elif sid is not None:
            s = await self.repo.session(ctx.project, str(sid))
            if s is None or s.user_id != uid:
                raise AppwriteError("user_session_not_found")
        return {"jwt": self.auth.create_jwt(ctx.project, uid, sid, duration or auth.JWT_SECONDS)}
