"""Why an event did or did not reach a kind of subscriber (rtcli extension: `rtcli explain`).

Given a logged event (by cursor) and a subscriber (a user, an API key or a guest) with an
optional channel and queries, it answers each question the hub asks, in the hub's order:
does the channel match, may these roles read the event, do the queries accept the payload;
and whether a slow-consumer policy or a limit dropped it for that user on this node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from rtcli.core.channels import is_pattern, pattern_match
from rtcli.core.event import key_may_receive, scope_of
from rtcli.core.permissions import GUEST, ActorKind
from rtcli.core.queries import explain_realtime
from rtcli.errors import AppwriteError, invalid
from rtcli.core.ports import Store
from rtcli.core.repositories import UserRepository
from rtcli.services.auth import Auth
from rtcli.services.context import Ctx


class DropLog(Protocol):
    """The node's last drops (server/metrics.py): (seq, connection id, user id, reason)."""

    @property
    def drops(self) -> Iterable[tuple[int, str, str | None, str]]: ...


class Explain:
    def __init__(self, store: Store, users: UserRepository, authn: Auth, metrics: DropLog) -> None:
        self.store = store
        self.users = users
        self.auth = authn
        self.metrics = metrics

    async def explain(self, ctx: Ctx, cursor: str, kind: ActorKind, subject_id: str | None, channel: str | None,
                      queries: list[Any]) -> dict[str, Any]:
        """Why the event at ``cursor`` did or did not reach a subscriber of that ``kind`` (for a
        user, the user ``subject_id``) on ``channel`` with ``queries``."""
        ctx.require_key("events.read")
        parts = cursor.split(".")
        if len(parts) != 3 or parts[0] != "c1" or not parts[2].isdigit() or parts[1] != self.store.epoch:
            raise invalid(f"Invalid cursor '{cursor}': pass the `cursor` of an event of this server.")
        seq = int(parts[2])
        found = await self.store.read_events(ctx.project, seq - 1, seq, 1)
        if not found:
            raise AppwriteError("general_cursor_not_found", f"No event at {cursor} (pruned, or of another project).")
        ev = found[0]
        # What the key could not read from the log it cannot read here: the event's own scope,
        # and a user's roles (teams, labels) need users.read.
        if not key_may_receive(ctx.actor.scopes, ev):
            ctx.require_scope(scope_of(ev))
        if kind is ActorKind.USER:
            ctx.require_scope("users.read")

        who, roles, is_key, user_id = await self._subject(ctx, kind, subject_id or "")
        if channel:
            matched = [c for c in ev.channels if (pattern_match(channel, c) if is_pattern(channel) else c == channel)]
            channel_check = {"channel": channel, "matches": bool(matched), "matched_channels": matched}
        else:
            channel_check = {"channel": None, "matches": True, "matched_channels": ev.channels,
                             "note": "no channel given: any of the event's channels would match"}
        granted = set(ev.roles)
        if is_key:
            role_check = {"matches": True, "reason": "an API key connection receives every event its scopes allow"}
        elif "any" in granted:
            role_check = {"matches": True, "reason": 'the event is readable by "any"'}
        else:
            common = sorted(granted & roles)
            role_check = {"matches": bool(common), "shared_roles": common,
                          "reason": (f"shares {', '.join(common)}" if common
                                     else "none of the subscriber's roles may read the event")}
        try:
            query_checks = explain_realtime(queries, ev.payload)
        except AppwriteError as e:
            raise invalid(e.message) from None
        drops = [{"connection": conn, "reason": reason} for s, conn, uid, reason in self.metrics.drops
                 if s == seq and (uid == user_id or kind is not ActorKind.USER)]
        delivered = channel_check["matches"] and role_check["matches"] and all(q["matches"] for q in query_checks)
        return {"cursor": cursor, "event": ev.events[0], "subscriber": who, "roles": sorted(roles),
                "event_roles": sorted(granted), "channel": channel_check, "permission": role_check,
                "queries": query_checks, "drops": drops,
                "verdict": ("delivered" if delivered and not drops else "dropped" if delivered else "not delivered")}

    async def _subject(self, ctx: Ctx, kind: ActorKind, uid: str) -> tuple[str, set[str], bool, str | None]:
        if kind is ActorKind.KEY:
            return "an API key", set(), True, None
        if kind is ActorKind.USER:
            user = await self.users.get_user(ctx.project, uid)
            if user is None:
                raise AppwriteError("user_not_found", f"User with the requested ID '{uid}' could not be found.")
            return f"user {uid}", set(await self.auth.roles(ctx.project, user)), False, uid
        return "a guest", set(GUEST.roles), False, None
