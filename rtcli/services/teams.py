"""Teams and memberships. Events go to ``team:T``; a membership change carries the member's
fresh roles so that their live connections are re-roled before the event is matched.

An API key adds members at once (confirmed); a team owner invites (unconfirmed, with a secret
the invitee accepts with). rtcli sends no email: the invitation secret is written to the server
log, as a local development server's mail catcher would show it.

Until the invitee accepts, callers other than API keys and the invitee see no name or email of
theirs in the membership (the inviter gets back only the email and name it gave): otherwise
inviting, then deleting the invitation, would read any user's email and name. An API key's
invitation of an unknown email makes the user (no password), as Appwrite does; anyone else's is
``user_not_found``: made by anyone, such users would let a guest with an anonymous session take
any email before its owner signs up (whether an email is registered, sign-up tells anyway).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from rtcli import ids
from rtcli.core import channels, events, formats
from rtcli.core.event import Controls, Event
from rtcli.core.permissions import ActorKind
from rtcli.core.ports import Store, Transaction
from rtcli.core.repositories import TeamRepository, UserRepository
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Membership, Team, UserRecord
from rtcli.errors import AppwriteError, invalid
from rtcli.services import auth, users_input
from rtcli.services.context import Ctx
from rtcli.settings import DEFAULTS

log = logging.getLogger("rtcli.teams")
Queries = list[Any]  # the request's query strings (a name: ``list`` is a method of Teams)


def team_model(t: Team, total: int) -> dict[str, Any]:
    return {"$id": t.id, "$createdAt": t.created_at, "$updatedAt": t.updated_at, "name": t.name,
            "total": total, "prefs": t.prefs}


def membership_model(m: Membership, user: UserRecord | None, team: Team) -> dict[str, Any]:
    return {"$id": m.id, "$createdAt": m.created_at, "$updatedAt": m.updated_at, "userId": m.user_id,
            "userName": user.name if user else "", "userEmail": (user.email if user else None) or "",
            "userPhone": "", "teamId": m.team_id, "teamName": team.name, "invited": m.invited, "joined": m.joined,
            "confirm": m.confirm, "mfa": False, "userAccessedAt": user.accessed_at if user else "",
            "roles": m.roles}


def _shown(ctx: Ctx, m: Membership) -> bool:
    """May ``ctx`` see the name and email of ``m``'s user? Not in an invitation still pending,
    but to an API key and to the invitee."""
    return m.confirm or ctx.actor.is_key or (ctx.actor.user_id is not None and ctx.actor.user_id == m.user_id)


def _roles_param(value: object, limit: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(r, str) and 0 < len(r) <= 32 for r in value) or len(value) > limit:
        raise invalid(f"Invalid `roles` param: Value must be an array of up to {limit} strings of 1-32 chars.")
    for r in value:
        if not ids.is_custom_id(r):
            raise invalid(f"Invalid `roles` param: role '{r}' may only contain a-z, A-Z, 0-9, period, hyphen, underscore.")
    return list(dict.fromkeys(value))


@dataclass(frozen=True)
class TeamLimits:
    """Each role of a user is a role of every connection they open (the hub indexes them, every
    event's read check intersects them): bounded, so that free sign-ups cannot make thousands."""

    teams_per_user: int = DEFAULTS.max_teams_per_user  # confirmed memberships (pending invitations do not count)
    roles_per_membership: int = DEFAULTS.max_roles_per_membership


class Teams:
    def __init__(self, store: Store, teams: TeamRepository, users: UserRepository, authn: auth.Auth,
                 limits: TeamLimits = TeamLimits()) -> None:
        self.store = store
        self.teams = teams
        self.users = users
        self.auth = authn
        self.limits = limits

    def _roles(self, value: object) -> list[str]:
        return _roles_param(value, self.limits.roles_per_membership)

    async def _room_for_team(self, ctx: Ctx, uid: str, tx: Transaction) -> None:
        """Raise unless the user may join one more team. The user's row is read in ``tx`` first:
        on PostgreSQL that locks it until ``tx`` ends, so joins of one user at the same moment
        count one after another instead of each passing the limit on the same count."""
        await self.users.get_user(ctx.project, uid, tx)
        limit = self.limits.teams_per_user
        if await self.teams.count_confirmed(ctx.project, uid, tx) >= limit:
            raise AppwriteError("team_limit_exceeded",
                                f"User '{uid}' is already a member of {limit} teams, the most this server allows: "
                                "leave a team first (the operator sets the limit with --max-teams-per-user).")

    # --- helpers ---------------------------------------------------------------------------

    def _event(self, ctx: Ctx, primary: str, team_id: str, base: list[str], payload: dict[str, Any],
               refresh: tuple[str, frozenset[str]] | None) -> Event:
        action = events.action_of(primary)
        return Event(project=ctx.project, events=events.expand(primary), channels=channels.with_action(base, action),
                     roles=[f"team:{team_id}"], payload=payload, timestamp=ids.format_datetime(),
                     user_id=refresh[0] if refresh else ctx.actor.user_id, permissions_changed=refresh is not None,
                     controls=Controls(refresh_roles=refresh))

    async def _team(self, ctx: Ctx, tid: str, tx: Transaction | None = None) -> Team:
        t = await self.teams.get(ctx.project, tid, tx)
        if t is None:
            raise AppwriteError("team_not_found", f"Team with the requested ID '{tid}' could not be found.")
        return t

    def _require(self, ctx: Ctx, tid: str, scope: str, owner: bool = False) -> None:
        a = ctx.actor
        if a.is_key:
            if not a.has_scope(scope):
                raise AppwriteError("general_unauthorized_scope", f'The API key is missing scope ("{scope}").')
            return
        if f"team:{tid}" not in a.roles:
            # Not a member: the team does not exist for this caller (as Appwrite answers).
            raise AppwriteError("team_not_found", f"Team with the requested ID '{tid}' could not be found.")
        if owner and f"team:{tid}/owner" not in a.roles:
            raise AppwriteError("user_unauthorized")

    async def _fresh_roles(self, ctx: Ctx, uid: str, tx: Transaction) -> tuple[str, frozenset[str]] | None:
        user = await self.users.get_user(ctx.project, uid, tx)
        return (uid, await self.auth.roles(ctx.project, user, tx)) if user else None

    # --- teams ------------------------------------------------------------------------------

    async def create(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        if ctx.actor.kind is ActorKind.GUEST:
            raise AppwriteError("general_unauthorized_scope", 'User (role: guests) missing scopes (["teams.write"])')
        if ctx.actor.is_key and not ctx.actor.has_scope("teams.write"):
            raise AppwriteError("general_unauthorized_scope", 'The API key is missing scope ("teams.write").')
        tid = ids.resolve_id(body.get("teamId", "unique()"))
        if tid is None:
            raise invalid("Invalid `teamId` param: Parameter must contain at most 36 chars. Valid chars are a-z, "
                          "A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
        name = body.get("name")
        if not isinstance(name, str) or not name or len(name) > 128:
            raise invalid("Invalid `name` param: Value must be a string of 1-128 characters.")
        roles = self._roles(body.get("roles", ["owner"]))
        now = ids.format_datetime()
        team = Team(id=tid, name=name, prefs={}, created_at=now, updated_at=now)
        async with self.store.transaction(ctx.actor.origin) as tx:
            if await self.teams.get(ctx.project, tid, tx):
                raise AppwriteError("team_already_exists")
            await self.teams.insert(tx, ctx.project, team)
            refresh = None
            uid = ctx.actor.user_id
            if ctx.actor.kind is ActorKind.USER and uid:
                await self._room_for_team(ctx, uid, tx)
                m = Membership(id=ids.unique(), team_id=tid, user_id=uid, roles=list(dict.fromkeys([*roles, "owner"])),
                               invited=now, joined=now, confirm=True, secret_hash="", created_at=now, updated_at=now)
                await self.teams.insert_membership(tx, ctx.project, m)
                refresh = await self._fresh_roles(ctx, uid, tx)
            total = await self.teams.total(ctx.project, tid, tx)
            model = team_model(team, total)
            await tx.append_event(self._event(ctx, f"teams.{tid}.create", tid, ["teams", f"teams.{tid}"], model, refresh))
        return model

    async def list(self, ctx: Ctx, queries: Queries) -> dict[str, Any]:
        if ctx.actor.kind is ActorKind.GUEST:
            raise AppwriteError("general_unauthorized_scope", 'User (role: guests) missing scopes (["teams.read"])')
        if ctx.actor.is_key and not ctx.actor.has_scope("teams.read"):
            raise AppwriteError("general_unauthorized_scope", 'The API key is missing scope ("teams.read").')
        p = list_plan(parse_many(queries))
        total, teams = await self.teams.page(ctx.project, None if ctx.actor.is_key else ctx.actor.user_id,
                                             p.limit, p.offset)
        return {"total": total, "teams": [team_model(t, await self.teams.total(ctx.project, t.id)) for t in teams]}

    async def get(self, ctx: Ctx, tid: str) -> dict[str, Any]:
        t = await self._team(ctx, tid)
        self._require(ctx, tid, "teams.read")
        return team_model(t, await self.teams.total(ctx.project, tid))

    async def update(self, ctx: Ctx, tid: str, body: dict[str, Any], field: str = "name") -> dict[str, Any]:
        t = await self._team(ctx, tid)
        self._require(ctx, tid, "teams.write", owner=True)
        if field == "prefs":
            t = replace(t, prefs=users_input.prefs(body.get("prefs")))
        else:
            name = body.get("name")
            if not isinstance(name, str) or not name or len(name) > 128:
                raise invalid("Invalid `name` param: Value must be a string of 1-128 characters.")
            t = replace(t, name=name)
        t = replace(t, updated_at=ids.format_datetime())
        primary = f"teams.{tid}.update" + (".prefs" if field == "prefs" else "")
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.teams.update(tx, ctx.project, t)
            model = team_model(t, await self.teams.total(ctx.project, tid, tx))
            # The prefs event carries the preferences document, as Appwrite's (its response).
            payload = t.prefs if field == "prefs" else model
            await tx.append_event(self._event(ctx, primary, tid, ["teams", f"teams.{tid}"], payload, None))
        return model

    async def delete(self, ctx: Ctx, tid: str) -> None:
        t = await self._team(ctx, tid)
        self._require(ctx, tid, "teams.write", owner=True)
        async with self.store.transaction(ctx.actor.origin) as tx:
            total, members = await self.teams.memberships(ctx.project, tid, 10_000, 0)
            model = team_model(t, total)
            await tx.append_event(self._event(ctx, f"teams.{tid}.delete", tid, ["teams", f"teams.{tid}"], model, None))
            await self.teams.delete(tx, ctx.project, tid)
            for m in members:  # former members lose team:T on their live connections
                refresh = await self._fresh_roles(ctx, m.user_id, tx)
                if refresh:
                    await tx.append_event(self._event(
                        ctx, f"teams.{tid}.memberships.{m.id}.delete", tid, ["memberships", f"memberships.{m.id}"],
                        membership_model(m, None, t), refresh))

    # --- memberships ------------------------------------------------------------------------

    async def create_membership(self, ctx: Ctx, tid: str, body: dict[str, Any]) -> dict[str, Any]:
        t = await self._team(ctx, tid)
        self._require(ctx, tid, "teams.write", owner=True)
        roles = self._roles(body.get("roles"))
        uid, email, name = body.get("userId"), body.get("email"), body.get("name") or ""
        if not isinstance(name, str) or len(name) > 128:
            raise invalid("Invalid `name` param: Value must be a string of at most 128 characters.")
        if not uid and email:
            if not isinstance(email, str) or not formats.is_email(email.strip(), formats.ACCOUNT_EMAIL_MAX):
                raise invalid("Invalid `email` param: Value must be a valid email address of at most "
                              f"{formats.ACCOUNT_EMAIL_MAX} characters")
            email = email.strip().lower()
        now = ids.format_datetime()
        async with self.store.transaction(ctx.actor.origin) as tx:
            if uid:
                user = await self.users.get_user(ctx.project, str(uid), tx)
                if user is None:
                    raise AppwriteError("user_not_found", f"User with the requested ID '{uid}' could not be found.")
            elif isinstance(email, str) and email:
                user = await self._invitee_by_email(ctx, email, name or email, tx)
            else:
                raise invalid("Invalid params: pass `userId` or `email` of the member to add.")
            if await self.teams.membership_of(ctx.project, tid, user.id, tx):
                raise AppwriteError("team_invite_already_exists")
            secret = auth.new_secret()
            confirm = ctx.actor.is_key
            if confirm:
                await self._room_for_team(ctx, user.id, tx)
            m = Membership(id=ids.unique(), team_id=tid, user_id=user.id, roles=roles, invited=now,
                           joined=now if confirm else "", confirm=confirm,
                           secret_hash="" if confirm else auth.hash_secret(secret), created_at=now, updated_at=now)
            await self.teams.insert_membership(tx, ctx.project, m)
            refresh = await self._fresh_roles(ctx, user.id, tx) if confirm else None
            # The event reaches the team's members: a pending invitee's name and email stay out.
            await tx.append_event(self._event(ctx, f"teams.{tid}.memberships.{m.id}.create", tid,
                                              ["memberships", f"memberships.{m.id}"],
                                              membership_model(m, user if confirm else None, t), refresh))
        if not confirm:
            log.info("invitation to team %s for %s: accept with PATCH /v1/teams/%s/memberships/%s/status "
                     '{"userId": "%s", "secret": "%s"}', tid, user.email or user.id, tid, m.id, user.id, secret)
        if _shown(ctx, m):
            return membership_model(m, user, t)
        model = membership_model(m, None, t)
        if not uid and isinstance(email, str):
            # What the inviter gave, the same whether or not the email was registered.
            model.update(userEmail=email, userName=name or email)
        return model

    async def _invitee_by_email(self, ctx: Ctx, email: str, name: str, tx: Transaction) -> UserRecord:
        """The user with ``email``; for an API key, made (without a password) when there is none,
        as Appwrite does."""
        user = await self.users.get_user_by_email(ctx.project, email, tx)
        if user is not None:
            return user
        if not ctx.actor.is_key:
            raise AppwriteError("user_not_found", f"No user with the email '{email}' exists in this project.")
        now = ids.format_datetime()
        user = UserRecord(id=ids.unique(), email=email, name=name, registration=now, accessed_at="",
                          created_at=now, updated_at=now)
        await self.users.add_user(tx, ctx.project, user)
        return user

    async def _membership(self, ctx: Ctx, tid: str, mid: str, tx: Transaction | None = None) -> Membership:
        m = await self.teams.membership(ctx.project, mid, tx)
        if m is None or m.team_id != tid:
            raise AppwriteError("membership_not_found", f"Membership with the requested ID '{mid}' could not be found.")
        return m

    async def list_memberships(self, ctx: Ctx, tid: str, queries: Queries) -> dict[str, Any]:
        t = await self._team(ctx, tid)
        self._require(ctx, tid, "teams.read")
        p = list_plan(parse_many(queries))
        total, ms = await self.teams.memberships(ctx.project, tid, p.limit, p.offset)
        return {"total": total, "memberships": [
            membership_model(m, await self.users.get_user(ctx.project, m.user_id) if _shown(ctx, m) else None, t)
            for m in ms]}

    async def get_membership(self, ctx: Ctx, tid: str, mid: str) -> dict[str, Any]:
        t = await self._team(ctx, tid)
        self._require(ctx, tid, "teams.read")
        m = await self._membership(ctx, tid, mid)
        return membership_model(m, await self.users.get_user(ctx.project, m.user_id) if _shown(ctx, m) else None, t)

    async def update_membership(self, ctx: Ctx, tid: str, mid: str, body: dict[str, Any]) -> dict[str, Any]:
        t = await self._team(ctx, tid)
        self._require(ctx, tid, "teams.write", owner=True)
        roles = self._roles(body.get("roles"))
        async with self.store.transaction(ctx.actor.origin) as tx:
            m = await self._membership(ctx, tid, mid, tx)
            m = replace(m, roles=roles, updated_at=ids.format_datetime())
            await self.teams.update_membership(tx, ctx.project, m)
            refresh = await self._fresh_roles(ctx, m.user_id, tx)
            user = await self.users.get_user(ctx.project, m.user_id, tx)
            await tx.append_event(self._event(ctx, f"teams.{tid}.memberships.{mid}.update", tid,
                                              ["memberships", f"memberships.{mid}"],
                                              membership_model(m, user if m.confirm else None, t), refresh))
        return membership_model(m, user if _shown(ctx, m) else None, t)

    async def accept(self, ctx: Ctx, tid: str, mid: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH …/status: the invitee accepts with the secret of the invitation."""
        t = await self._team(ctx, tid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            m = await self._membership(ctx, tid, mid, tx)
            if body.get("userId") != m.user_id:
                raise AppwriteError("team_membership_mismatch")
            secret = body.get("secret")
            if not isinstance(secret, str) or not m.secret_hash or auth.hash_secret(secret) != m.secret_hash:
                raise AppwriteError("team_invalid_secret")
            if m.confirm:
                raise AppwriteError("membership_already_confirmed")
            await self._room_for_team(ctx, m.user_id, tx)
            now = ids.format_datetime()
            m = replace(m, confirm=True, joined=now, secret_hash="", updated_at=now)
            await self.teams.update_membership(tx, ctx.project, m)
            refresh = await self._fresh_roles(ctx, m.user_id, tx)
            user = await self.users.get_user(ctx.project, m.user_id, tx)
            model = membership_model(m, user, t)
            await tx.append_event(self._event(ctx, f"teams.{tid}.memberships.{mid}.update.status", tid,
                                              ["memberships", f"memberships.{mid}"], model, refresh))
        return model

    async def delete_membership(self, ctx: Ctx, tid: str, mid: str) -> None:
        t = await self._team(ctx, tid)
        async with self.store.transaction(ctx.actor.origin) as tx:
            m = await self._membership(ctx, tid, mid, tx)
            if not (ctx.actor.user_id and ctx.actor.user_id == m.user_id):
                self._require(ctx, tid, "teams.write", owner=True)
            await self.teams.delete_membership(tx, ctx.project, mid)
            refresh = await self._fresh_roles(ctx, m.user_id, tx)
            user = await self.users.get_user(ctx.project, m.user_id, tx)
            await tx.append_event(self._event(ctx, f"teams.{tid}.memberships.{mid}.delete", tid,
                                              ["memberships", f"memberships.{mid}"],
                                              membership_model(m, user if m.confirm else None, t), refresh))
