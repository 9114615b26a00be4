"""Account use cases: sign-up, sessions (email, anonymous), JWTs, name/password/prefs.

Every write emits its event in the same transaction: ``users.U.create``, ``users.U.update.<x>``,
``users.U.sessions.S.create|delete``; only that user (role ``user:U``) receives them, on the
``account`` and ``account.U`` channels.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import replace
from typing import Any

from rtcli import ids
from rtcli.core import channels, events, formats
from rtcli.core.event import Controls, Event
from rtcli.core.permissions import ActorKind
from rtcli.core.ports import Store
from rtcli.core.repositories import TeamRepository, UserRepository
from rtcli.core.records import Session, UserRecord
from rtcli.errors import AppwriteError, invalid
from rtcli.services import auth, users_input
from rtcli.services.context import Ctx
from rtcli.services.teams import membership_model
from rtcli.services.ratelimit import RateLimiter


def account_model(u: UserRecord) -> dict[str, Any]:
    return {
        "$id": u.id, "$createdAt": u.created_at, "$updatedAt": u.updated_at, "name": u.name,
        "registration": u.registration, "status": u.status, "labels": u.labels,
        "passwordUpdate": u.password_update, "email": u.email or "", "phone": u.phone or "",
        "emailVerification": u.email_verification, "emailCanonical": (u.email or "").lower(),
        "emailIsFree": False, "emailIsDisposable": False, "emailIsCorporate": False, "emailIsCanonical": True,
        "phoneVerification": u.phone_verification, "mfa": False, "prefs": u.prefs or {}, "targets": [],
        "accessedAt": u.accessed_at, "impersonator": False, "impersonatorUserId": "",
    }


def session_model(s: Session, current_sid: str | None, secret: str = "") -> dict[str, Any]:
    return {
        "$id": s.id, "$createdAt": s.created_at, "$updatedAt": s.updated_at, "userId": s.user_id,
        "expire": s.expire, "provider": s.provider, "providerUid": "", "providerAccessToken": "",
        "providerAccessTokenExpiry": "", "providerRefreshToken": "", "ip": s.ip, "osCode": "", "osName": "",
        "osVersion": "", "clientType": "", "clientCode": "", "clientName": s.user_agent[:64], "clientVersion": "",
        "clientEngine": "", "clientEngineVersion": "", "deviceName": "", "deviceBrand": "", "deviceModel": "",
        "countryCode": "--", "countryName": "Unknown", "current": s.id == current_sid, "factors": ["password"],
        "secret": secret, "mfaUpdatedAt": "",
    }


def new_session(uid: str, provider: str, ip: str, user_agent: str) -> tuple[Session, str]:
    """A session for ``uid`` and its plain secret (only the secret's hash is kept)."""
    secret = auth.new_secret()
    now = ids.format_datetime()
    expire_ts = time.time() + auth.SESSION_SECONDS
    return Session(id=ids.unique(), user_id=uid, secret_hash=auth.hash_secret(secret), provider=provider, ip=ip,
                   user_agent=user_agent or "", expire=ids.format_datetime(expire_ts), expire_ts=expire_ts,
                   created_at=now, updated_at=now), secret


def user_event(project: str, uid: str, primary: str, payload: dict[str, Any], **extra: Any) -> Event:
    """An account event: roles user:U; channels account + account.U (action siblings only for
    top-level user events such as users.U.update.name, not for sessions)."""
    parts = primary.split(".")
    action = parts[2] if len(parts) > 2 and parts[2] in events.ACTIONS else None
    return Event(project=project, events=events.expand(primary),
                 channels=channels.with_action(["account", f"account.{uid}"], action),
                 roles=[f"user:{uid}"], payload=payload, timestamp=ids.format_datetime(), user_id=uid, **extra)


class Account:
    def __init__(self, store: Store, users: UserRepository, teams: TeamRepository, authn: auth.Auth,
                 per_email: int = 10, per_ip: int = 100) -> None:
        self.store = store
        self.users = users
        self.teams = teams
        self.auth = authn
        self.email_limit = RateLimiter(per_email)
        self.ip_limit = RateLimiter(per_ip)

    # --- helpers ---------------------------------------------------------------------------

    async def current_user(self, ctx: Ctx) -> UserRecord:
        if ctx.actor.kind is not ActorKind.USER or not ctx.actor.user_id:
            role = "guests" if ctx.actor.kind is ActorKind.GUEST else "applications"
            raise AppwriteError("general_unauthorized_scope", f'User (role: {role}) missing scopes (["account"])')
        user = await self.users.get_user(ctx.project, ctx.actor.user_id)
        if user is None:
            raise AppwriteError("user_not_found")
        return user

    @staticmethod
    def _password(value: object) -> str:
        if not isinstance(value, str) or not 8 <= len(value) <= 256:
            raise invalid("Invalid `password` param: Password must be between 8 and 256 characters long.")
        return value

    # --- create ------------------------------------------------------------------------------

    async def create(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        uid = ids.resolve_id(body.get("userId", "unique()"))
        if uid is None:
            raise invalid("Invalid `userId` param: Parameter must contain at most 36 chars. Valid chars are a-z, "
                          "A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
        email = body.get("email")
        if not isinstance(email, str) or not formats.is_email(email, formats.ACCOUNT_EMAIL_MAX):
            raise invalid("Invalid `email` param: Value must be a valid email address of at most "
                          f"{formats.ACCOUNT_EMAIL_MAX} characters")
        email = email.strip().lower()
        password = self._password(body.get("password"))
        name = body.get("name") or ""
        if not isinstance(name, str) or len(name) > 128:
            raise invalid("Invalid `name` param: Value must be a string of at most 128 characters.")
        now = ids.format_datetime()
        user = UserRecord(id=uid, email=email, name=name, password_hash=await auth.hash_password(password),
                          registration=now, password_update=now, accessed_at=now, created_at=now, updated_at=now)
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.users.add_user(tx, ctx.project, user)  # user_already_exists when the id or email is taken
            await tx.append_event(user_event(ctx.project, uid, f"users.{uid}.create", account_model(user)))
        return account_model(user)

    # --- sessions ----------------------------------------------------------------------------

    async def create_email_session(self, ctx: Ctx, body: dict[str, Any], ip: str,
                                   user_agent: str) -> tuple[dict[str, Any], str]:
        """Returns (Session model, session token for the cookie)."""
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            raise invalid("Invalid `email` or `password` param.")
        # Before the limiters: no account has a longer email, and a request's value must not
        # cost the limiter more than a short key.
        if len(email) > formats.ACCOUNT_EMAIL_MAX:
            raise invalid(f"Invalid `email` param: Value must be a valid email address of at most "
                          f"{formats.ACCOUNT_EMAIL_MAX} characters")
        email = email.strip().lower()
        if not self.ip_limit.hit(ip) or not self.email_limit.hit(f"{ctx.project}\x00{email}"):
            raise AppwriteError("general_rate_limit_exceeded")
        if ctx.actor.kind is ActorKind.USER:
            raise AppwriteError("user_session_already_exists")
        user = await self.users.get_user_by_email(ctx.project, email)
        signed_in = await auth.check_credentials(user, password)  # as slow when there is no such user
        if user is None or not signed_in:
            raise AppwriteError("user_invalid_credentials")
        if not user.status:
            raise AppwriteError("user_blocked")
        if user.hash != "argon2":
            # A password imported with another algorithm (MD5, SHA, bcrypt…) is hashed again with
            # argon2id now that it is known, as Appwrite does at sign-in.
            user = replace(user, password_hash=await auth.hash_password(password), hash="argon2", hash_options={})
            async with self.store.transaction(ctx.actor.origin) as tx:
                await self.users.save_user(tx, ctx.project, user)
        return await self._new_session(ctx, user, "email", ip, user_agent)

    async def create_token_session(self, ctx: Ctx, body: dict[str, Any], ip: str,
                                   user_agent: str) -> tuple[dict[str, Any], str]:
        """Exchange a token a server made for the user (Users API ``createToken``) for a session."""
        uid, secret = body.get("userId"), body.get("secret")
        if not isinstance(uid, str) or not isinstance(secret, str) or not secret or len(secret) > 256:
            raise invalid("Invalid `userId` or `secret` param: pass the token's userId and secret.")
        if not self.ip_limit.hit(ip):
            raise AppwriteError("general_rate_limit_exceeded")
        if ctx.actor.kind is ActorKind.USER:
            raise AppwriteError("user_session_already_exists")
        digest = auth.hash_secret(secret)
        async with self.store.transaction(ctx.actor.origin) as tx:
            token = next((t for t in await self.users.tokens_of(ctx.project, uid, tx)
                          if hmac.compare_digest(t.secret_hash, digest) and t.expire_ts > time.time()), None)
            if token is None:
                raise AppwriteError("user_invalid_token")
            await self.users.delete_token(tx, ctx.project, token.id)  # a token is good for one session
        user = await self.users.get_user(ctx.project, uid)
        if user is None:
            raise AppwriteError("user_invalid_token")
        if not user.status:
            raise AppwriteError("user_blocked")
        return await self._new_session(ctx, user, "token", ip, user_agent)

    async def create_anonymous_session(self, ctx: Ctx, ip: str, user_agent: str) -> tuple[dict[str, Any], str]:
        if not self.ip_limit.hit(ip):
            raise AppwriteError("general_rate_limit_exceeded")
        if ctx.actor.kind is ActorKind.USER:
            raise AppwriteError("user_session_already_exists")
        now = ids.format_datetime()
        uid = ids.unique()
        user = UserRecord(id=uid, email=None, name="", registration=now, accessed_at=now, created_at=now,
                          updated_at=now)
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.users.add_user(tx, ctx.project, user)
            await tx.append_event(user_event(ctx.project, uid, f"users.{uid}.create", account_model(user)))
        return await self._new_session(ctx, user, "anonymous", ip, user_agent)

    async def _new_session(self, ctx: Ctx, user: UserRecord, provider: str, ip: str,
                           user_agent: str) -> tuple[dict[str, Any], str]:
        s, secret = new_session(user.id, provider, ip, user_agent)
        token = auth.encode_token(user.id, secret)
        # An API key (server-side login) gets the session token itself, which the server then
        # accepts in X-Appwrite-Session; anyone else gets it only as a cookie.
        model = session_model(s, s.id, token if ctx.actor.is_key else "")
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.users.insert_session(tx, ctx.project, s)
            await tx.append_event(user_event(ctx.project, user.id, f"users.{user.id}.sessions.{s.id}.create",
                                             session_model(s, s.id)))
        return model, token

    async def list_sessions(self, ctx: Ctx) -> dict[str, Any]:
        user = await self.current_user(ctx)
        sessions = await self.users.sessions_of(ctx.project, user.id)
        return {"total": len(sessions), "sessions": [session_model(s, ctx.actor.session_id) for s in sessions]}

    async def _own_session(self, ctx: Ctx, session_id: str) -> Session:
        user = await self.current_user(ctx)
        sid = ctx.actor.session_id if session_id == "current" else session_id
        s = await self.users.session(ctx.project, sid) if sid else None
        if s is None or s.user_id != user.id:
            raise AppwriteError("user_session_not_found")
        return s

    async def get_session(self, ctx: Ctx, session_id: str) -> dict[str, Any]:
        return session_model(await self._own_session(ctx, session_id), ctx.actor.session_id)

    async def extend_session(self, ctx: Ctx, session_id: str) -> dict[str, Any]:
        """PATCH /account/sessions/{id}: the session's lifetime starts over (Appwrite also refreshes
        an OAuth session's provider tokens here; rtcli has no OAuth)."""
        s = await self._own_session(ctx, session_id)
        expire_ts = time.time() + auth.SESSION_SECONDS
        s = replace(s, expire=ids.format_datetime(expire_ts), expire_ts=expire_ts, updated_at=ids.format_datetime())
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.users.extend_session(tx, ctx.project, s)
            await tx.append_event(user_event(ctx.project, s.user_id, f"users.{s.user_id}.sessions.{s.id}.update",
                                             session_model(s, s.id)))
        return session_model(s, ctx.actor.session_id)

    async def delete_session(self, ctx: Ctx, session_id: str) -> bool:
        """Delete one session; returns True if it was the caller's current one."""
        s = await self._own_session(ctx, session_id)
        await self._delete_sessions(ctx, [s])
        return s.id == ctx.actor.session_id

    async def delete_sessions(self, ctx: Ctx) -> None:
        user = await self.current_user(ctx)
        await self._delete_sessions(ctx, await self.users.sessions_of(ctx.project, user.id))

    async def _delete_sessions(self, ctx: Ctx, sessions: list[Session]) -> None:
        async with self.store.transaction(ctx.actor.origin) as tx:
            for s in sessions:
                await self.users.delete_session(tx, ctx.project, s.id)
                uid = s.user_id
                await tx.append_event(user_event(ctx.project, uid, f"users.{uid}.sessions.{s.id}.delete",
                                                 session_model(s, ctx.actor.session_id),
                                                 controls=Controls(revoke_session=s.id)))

    # --- profile -----------------------------------------------------------------------------

    async def get(self, ctx: Ctx) -> dict[str, Any]:
        return account_model(await self.current_user(ctx))

    async def memberships(self, ctx: Ctx) -> dict[str, Any]:
        """GET /account/memberships: the caller's memberships, in every team."""
        user = await self.current_user(ctx)
        out = []
        for m in await self.teams.memberships_of(ctx.project, user.id):
            team = await self.teams.get(ctx.project, m.team_id)
            if team is not None:
                out.append(membership_model(m, user, team))
        return {"total": len(out), "memberships": out}

    async def create_jwt(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        user = await self.current_user(ctx)
        duration = body.get("duration", auth.JWT_SECONDS)
        if isinstance(duration, bool) or not isinstance(duration, int) or not 0 < duration <= 3600:
            raise invalid("Invalid `duration` param: Value must be between 1 and 3600 seconds.")
        return {"jwt": self.auth.create_jwt(ctx.project, user.id, ctx.actor.session_id, duration)}

    async def update(self, ctx: Ctx, field: str, body: dict[str, Any]) -> dict[str, Any]:
        user = await self.current_user(ctx)
        if field == "name":
            name = body.get("name")
            if not isinstance(name, str) or len(name) > 128:
                raise invalid("Invalid `name` param: Value must be a string of at most 128 characters.")
            user = replace(user, name=name)
        elif field == "password":
            password = self._password(body.get("password"))
            if user.password_hash and not await auth.verify_password(user, body.get("oldPassword") or ""):
                raise AppwriteError("user_invalid_credentials", "Invalid credentials. Please check the old password.")
            user = replace(user, password_hash=await auth.hash_password(password), hash="argon2", hash_options={},
                           password_update=ids.format_datetime())
        elif field == "email":
            email = body.get("email")
            if not isinstance(email, str) or not formats.is_email(email, formats.ACCOUNT_EMAIL_MAX):
                raise invalid("Invalid `email` param: Value must be a valid email address of at most "
                              f"{formats.ACCOUNT_EMAIL_MAX} characters")
            if user.password_hash and not await auth.verify_password(user, body.get("password") or ""):
                raise AppwriteError("user_invalid_credentials", "Invalid credentials. Please check the password.")
            email = email.strip().lower()
            other = await self.users.get_user_by_email(ctx.project, email)
            if other is not None and other.id != user.id:
                raise AppwriteError("user_email_already_exists")
            user = replace(user, email=email, email_verification=False)
        elif field == "prefs":
            user = replace(user, prefs=users_input.prefs(body.get("prefs")))
        user = replace(user, updated_at=ids.format_datetime())
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.users.save_user(tx, ctx.project, user)
            uid = user.id
            await tx.append_event(user_event(ctx.project, uid, f"users.{uid}.update.{field}", account_model(user)))
        return account_model(user)
