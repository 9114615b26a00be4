"""Permissions and roles (Appwrite's permission and role strings).

A permission string is ``action("role")``; actions are read, create, update, delete and write
(write = update + delete, plus create on tables and buckets). Roles: ``any``, ``guests``,
``users[/verified|/unverified]``, ``user:ID[/verified|/unverified]``, ``team:ID[/ROLE]``,
``member:MID``, ``label:NAME``.

An actor (the caller of a REST request or the owner of a connection) holds a set of roles;
``any`` is never held, it is matched on the resource side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from rtcli.core.event import Origin
from rtcli.errors import AppwriteError

ACTIONS = ("read", "create", "update", "delete", "write")
_PERMISSION = re.compile(r'^(read|create|update|delete|write)\("([^"]+)"\)$')
_ROLE = re.compile(
    r"^(any|guests|users(/verified|/unverified)?"
    r"|user:[A-Za-z0-9._-]+(/verified|/unverified)?"
    r"|team:[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?"
    r"|member:[A-Za-z0-9._-]+|label:[A-Za-z0-9]+)$"
)


@dataclass(frozen=True)
class Permission:
    action: str
    role: str

    def __str__(self) -> str:
        return f'{self.action}("{self.role}")'

    @property
    def user_id(self) -> str | None:
        """The user this permission names (``user:ID``, with or without a /verified suffix), if any."""
        if not self.role.startswith("user:"):
            return None
        return self.role.removeprefix("user:").split("/", 1)[0]


def parse(value: object) -> Permission:
    """Parse one permission string, or raise a 400 that names it."""
    if not isinstance(value, str):
        raise AppwriteError("general_argument_invalid", f"Invalid permission: {value!r} is not a string.")
    m = _PERMISSION.match(value.strip())
    if not m:
        raise AppwriteError(
            "general_argument_invalid",
            f'Invalid permission "{value}": expected action("role") with action one of {", ".join(ACTIONS)}.',
        )
    action, role = m.group(1), m.group(2)
    if not _ROLE.match(role):
        raise AppwriteError("general_argument_invalid", f'Invalid permission "{value}": unknown role "{role}".')
    return Permission(action, role)


# Appwrite's bound on array parameters: a resource's permissions are parsed and checked on every
# read of it, and copied into each of its events.
MAX_PERMISSIONS = 100


def parse_list(values: object, allowed: tuple[str, ...] = ACTIONS) -> list[str]:
    """Validate and normalise a permission list; duplicates removed, order kept."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise AppwriteError("general_argument_invalid", "Invalid permissions: expected an array of strings.")
    if len(values) > MAX_PERMISSIONS:
        raise AppwriteError("general_argument_invalid",
                            f"Invalid `permissions` param: at most {MAX_PERMISSIONS} permissions.")
    out: dict[str, None] = {}
    for v in values:
        p = parse(v)
        if p.action not in allowed:
            raise AppwriteError(
                "general_argument_invalid",
                f'Invalid permission "{v}": only {", ".join(allowed)} are allowed here.',
            )
        out[str(p)] = None
    return list(out)


def roles_for(action: str, permissions: list[str]) -> set[str]:
    """The roles granted ``action`` by a permission list (``write`` implies update and delete)."""
    roles = set()
    for s in permissions:
        p = parse(s)
        if p.action == action or (p.action == "write" and action in ("update", "delete", "create")):
            roles.add(p.role)
    return roles


def granted_user(action: str, permissions: list[str]) -> str | None:
    """The first user a permission list grants ``action`` to by id, or None."""
    for s in permissions:
        p = parse(s)
        if p.action == action and p.user_id is not None:
            return p.user_id
    return None


def allows(granted: set[str] | frozenset[str], held: frozenset[str]) -> bool:
    """True when a resource's roles admit an actor: ``any`` admits everyone."""
    return "any" in granted or not granted.isdisjoint(held)


class ActorKind(StrEnum):
    """Who an actor is. A ``StrEnum`` so that code still comparing with the plain strings keeps
    working; compare with ``is``."""

    GUEST = "guest"
    USER = "user"
    KEY = "key"


@dataclass(frozen=True)
class Actor:
    """Who is calling: a guest, a user (with roles) or a server API key (no role checks).

    ``roles`` never contains ``any``. A key actor bypasses permissions, as in Appwrite.
    """

    kind: ActorKind
    roles: frozenset[str] = field(default_factory=lambda: frozenset({"guests"}))
    user_id: str | None = None
    scopes: frozenset[str] = frozenset()
    session_id: str | None = None  # the session a user actor authenticated with (None for a JWT)
    origin: Origin | None = None  # for a function execution's key: the execution's function and depth

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes

    @property
    def is_key(self) -> bool:
        return self.kind is ActorKind.KEY

    def can(self, granted: set[str] | frozenset[str]) -> bool:
        return self.is_key or allows(granted, self.roles)


GUEST = Actor(ActorKind.GUEST)
KEY = Actor(ActorKind.KEY, roles=frozenset(), scopes=frozenset({"*"}))


def user_roles(user_id: str, verified: bool = False, teams: dict[str, tuple[str, list[str]]] | None = None,
               labels: list[str] | None = None) -> frozenset[str]:
    """Appwrite's User::getRoles(). ``teams`` maps team id -> (membership id, team roles)."""
    suffix = "/verified" if verified else "/unverified"
    roles = {f"user:{user_id}", "users", f"user:{user_id}{suffix}", f"users{suffix}"}
    for team_id, (membership_id, team_roles) in (teams or {}).items():
        roles.add(f"team:{team_id}")
        roles.add(f"member:{membership_id}")
        roles.update(f"team:{team_id}/{r}" for r in team_roles)
    roles.update(f"label:{label}" for label in labels or [])
    return frozenset(roles)


def grants(actor: Actor, action: str, container: list[str], item: list[str] | None, item_security: bool) -> bool:
    """Appwrite's two-level model, for rows in tables and files in buckets: the container's
    permissions apply to every item; with rowSecurity/fileSecurity on, an item's own permissions
    grant too. (API keys are not role-checked: callers check their scopes instead.)"""
    if actor.can(roles_for(action, container)):
        return True
    return bool(item is not None and item_security and actor.can(roles_for(action, item)))


def read_roles(container: list[str], item: list[str], item_security: bool) -> list[str]:
    """Who may read an item, as its events carry it: the container's readers, plus the item's
    own with rowSecurity/fileSecurity on."""
    roles = roles_for("read", container)
    if item_security:
        roles |= roles_for("read", item)
    return sorted(roles)
