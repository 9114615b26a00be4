"""Typed records the stores hand to the use cases (no I/O, no policy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class UserRecord:
    """A user as stored. ``password_hash`` is verified with ``hash`` (Appwrite's algorithm name)
    and ``hash_options``; None means the user has no password (anonymous, or cleared)."""

    id: str
    email: str | None
    name: str
    registration: str
    created_at: str
    updated_at: str
    accessed_at: str
    password_hash: str | None = None
    hash: str = "argon2"
    hash_options: dict[str, Any] = field(default_factory=dict)
    password_update: str = ""
    status: bool = True
    labels: list[str] = field(default_factory=list)
    prefs: dict[str, Any] = field(default_factory=dict)
    email_verification: bool = False
    phone: str | None = None
    phone_verification: bool = False


@dataclass
class TokenRecord:
    """A one-time secret a server made for a user, exchanged for a session before ``expire_ts``."""

    id: str
    user_id: str
    secret_hash: str
    expire: str
    expire_ts: float
    created_at: str


@dataclass
class TransactionRecord:
    """A TablesDB transaction: ``pending`` while operations are staged, then ``committed`` or
    ``rolled_back``; past ``expires_ts`` it can no longer be used."""

    id: str
    owner: str | None  # the user who made it (None: an API key)
    status: str
    operations: int
    expires_at: str
    expires_ts: float
    created_at: str
    updated_at: str
