"""Credentials: passwords (argon2id), session tokens, JWTs, and the roles of a user.

A session token is Appwrite's ``base64(JSON{"id": userId, "secret": secret})``; only the
SHA-256 of the 256-bit secret is stored. JWTs are HS256 with a server secret kept in the
database, and name their project, so one project's JWT is refused by another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import jwt as pyjwt
import orjson
from rtcli.core.permissions import Actor, ActorKind, user_roles
from rtcli.core.ports import Store, Transaction
from rtcli.core.repositories import TeamRepository, UserRepository
from rtcli.core.records import UserRecord
from rtcli.errors import AppwriteError
from rtcli.services import hashes

SESSION_SECONDS = 365 * 86400
JWT_SECONDS = 15 * 60


async def hash_password(password: str) -> str:
    """A new password's hash (argon2id)."""
    return (await hashes.argon2(password)).value or ""


async def verify_password(user: UserRecord, password: str) -> bool:
    """Does ``password`` match the user's, whatever algorithm its hash was imported with?"""
    stored = hashes.PasswordHash(user.password_hash, hashes.Algorithm(user.hash or "argon2"),
                                 user.hash_options or {})
    return await hashes.verify(stored, password)


# A decoy argon2id hash, made on first use: a sign-in for an unknown email (or a user with no
# password) verifies against it, so that it takes as long as a wrong password for a real user
# and the answer's timing does not tell which emails are registered.
_decoy: hashes.PasswordHash | None = None


async def _decoy_hash() -> hashes.PasswordHash:
    global _decoy
    if _decoy is None:
        _decoy = await hashes.argon2(secrets.token_hex(16))
    return _decoy


async def check_credentials(user: UserRecord | None, password: str) -> bool:
    """Does ``password`` sign ``user`` in? Goes through a slow hash whether or not the user exists."""
    if user is None or not user.password_hash:
        await hashes.verify(await _decoy_hash(), password)
        return False
    return await verify_password(user, password)


def new_secret() -> str:
    return secrets.token_hex(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def encode_token(user_id: str, secret: str) -> str:
    return base64.b64encode(json.dumps({"id": user_id, "secret": secret}, separators=(",", ":")).encode()).decode()


# A session token is a user id and a 64-hex secret, base64: far below this. Longer input is
# no token, and is not decoded (nor parsed: nested JSON would recurse).
MAX_TOKEN = 1024


def decode_token(token: str) -> tuple[str, str] | None:
    if len(token) > MAX_TOKEN:
        return None
    try:
        data = orjson.loads(base64.b64decode(token, validate=False))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not isinstance(data.get("secret"), str):
        return None
    return data["id"], data["secret"]


class Auth:
    """Turns credentials into an Actor. Reads only; writes live in services.account."""

    def __init__(self, store: Store, users: UserRepository, teams: TeamRepository) -> None:
        self.store = store
        self.users = users
        self.teams = teams
        self.jwt_secret = ""

    async def load(self) -> None:
        row = await self.store.fetchone("SELECT value FROM meta WHERE key='jwt_secret'")
        if row:
            self.jwt_secret = row[0]
            return
        self.jwt_secret = secrets.token_hex(32)
        async with self.store.transaction() as tx:
            await tx.execute("INSERT INTO meta (key, value) VALUES ('jwt_secret', ?) ON CONFLICT DO NOTHING", (self.jwt_secret,))

    async def roles(self, project: str, user: UserRecord, tx: Transaction | None = None) -> frozenset[str]:
        teams = {m.team_id: (m.id, m.roles)
                 for m in await self.teams.memberships_of(project, user.id, confirmed=True, tx=tx)}
        return user_roles(user.id, user.email_verification, teams, user.labels)

    async def actor_for(self, project: str, user: UserRecord, session_id: str | None,
                        tx: Transaction | None = None) -> Actor:
        return Actor(ActorKind.USER, await self.roles(project, user, tx), user.id, session_id=session_id)

    async def from_session_token(self, project: str, token: str) -> tuple[Actor, UserRecord] | None:
        """Verify a session token; None when it is malformed, unknown, expired or its user blocked."""
        decoded = decode_token(token)
        if decoded is None:
            return None
        uid, secret = decoded
        digest = hash_secret(secret)
        for s in await self.users.sessions_of(project, uid):
            if hmac.compare_digest(s.secret_hash, digest) and s.expire_ts > time.time():
                user = await self.users.get_user(project, uid)
                if user is None or not user.status:
                    return None
                return await self.actor_for(project, user, s.id), user
        return None

    def create_jwt(self, project: str, user_id: str, session_id: str | None, seconds: int = JWT_SECONDS) -> str:
        now = int(time.time())
        return pyjwt.encode({"userId": user_id, "sessionId": session_id or "", "project": project,
                             "iat": now, "exp": now + seconds}, self.jwt_secret, algorithm="HS256")

    async def from_jwt(self, project: str, token: str) -> tuple[Actor, UserRecord]:
        """Verify a JWT; raises 401 ``user_jwt_invalid`` when it does not hold."""
        try:
            claims = pyjwt.decode(token, self.jwt_secret, algorithms=["HS256"])
        except pyjwt.PyJWTError as e:
            raise AppwriteError("user_jwt_invalid", f"Failed to verify JWT. {e}") from None
        if claims.get("project") != project:
            raise AppwriteError("user_jwt_invalid", "Failed to verify JWT. It was issued for another project.")
        user = await self.users.get_user(project, str(claims.get("userId")))
        if user is None or not user.status:
            raise AppwriteError("user_jwt_invalid", "Failed to verify JWT. The user does not exist or is blocked.")
        sid = claims.get("sessionId") or None
        if sid and await self.users.session(project, sid) is None:
            raise AppwriteError("user_jwt_invalid", "Failed to verify JWT. Its session was deleted.")
        return await self.actor_for(project, user, sid), user
