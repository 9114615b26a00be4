"""The caller of a use case: which project, and who (guest, user or API key)."""

from __future__ import annotations

from dataclasses import dataclass

from rtcli.core.permissions import Actor, ActorKind
from rtcli.errors import AppwriteError


@dataclass(frozen=True)
class Ctx:
    project: str
    actor: Actor

    def require_key(self, scope: str = "databases.write") -> None:
        """Admin-only endpoints (databases, tables, columns) need an API key with the scope."""
        if not self.actor.is_key:
            role = "guests" if self.actor.kind is ActorKind.GUEST else "users"
            raise AppwriteError("general_unauthorized_scope", f'User (role: {role}) missing scopes (["{scope}"])')
        self.require_scope(scope)

    def require_scope(self, scope: str) -> None:
        """An API key must carry the scope of what it does (users are checked by permissions)."""
        if self.actor.is_key and not self.actor.has_scope(scope):
            raise AppwriteError("general_unauthorized_scope", f'The API key is missing the scope "{scope}".')

    def assert_can_grant(self, permissions: list[str]) -> None:
        """A client may only grant roles it holds (or ``any``), as Appwrite rules."""
        if self.actor.is_key:
            return
        from rtcli.core.permissions import parse

        allowed = set(self.actor.roles) | {"any"}
        for p in permissions:
            role = parse(p).role
            if role not in allowed:
                raise AppwriteError(
                    "user_unauthorized",
                    f"Permissions must be one of: ({', '.join(sorted(allowed))})",
                )
