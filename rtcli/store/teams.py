"""Teams and memberships (SQLite and PostgreSQL): typed records, no policy."""

from __future__ import annotations

from typing import Any

import orjson

from rtcli.core.ports import Store, Transaction
from rtcli.core.records import Membership, Team
from rtcli.errors import AppwriteError
from rtcli.store.dialect import UniqueViolation


def _j(v: object) -> str:
    return orjson.dumps(v).decode()


def _team(r: Any) -> Team:
    return Team(id=r["id"], name=r["name"], prefs=orjson.loads(r["prefs"]), created_at=r["created_at"],
                updated_at=r["updated_at"])


def _membership(r: Any) -> Membership:
    return Membership(id=r["id"], team_id=r["team_id"], user_id=r["user_id"], roles=orjson.loads(r["roles"]),
                      invited=r["invited"], joined=r["joined"], confirm=bool(r["confirm"]),
                      secret_hash=r["secret_hash"], created_at=r["created_at"], updated_at=r["updated_at"])


class TeamStore:
    """Implements core.repositories.TeamRepository."""

    def __init__(self, store: Store) -> None:
        self.s = store

    async def _one(self, sql: str, params: tuple[Any, ...], tx: Transaction | None) -> Any:
        return await (tx or self.s).fetchone(sql, params)

    # --- teams ---------------------------------------------------------------------------

    async def get(self, project: str, tid: str, tx: Transaction | None = None) -> Team | None:
        r = await self._one("SELECT * FROM teams WHERE project=? AND id=?", (project, tid), tx)
        return _team(r) if r else None

    async def total(self, project: str, tid: str, tx: Transaction | None = None) -> int:
        r = await self._one("SELECT COUNT(*) FROM memberships WHERE project=? AND team_id=? AND confirm=1",
                            (project, tid), tx)
        return int(r[0])

    async def page(self, project: str, member: str | None, limit: int, offset: int) -> tuple[int, list[Team]]:
        params: tuple[str, ...]
        if member is None:
            where, params = "project=?", (project,)
        else:
            where = "project=? AND id IN (SELECT team_id FROM memberships WHERE project=? AND user_id=? AND confirm=1)"
            params = (project, project, member)
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM teams WHERE {where}", params))[0]
        rows = await self.s.fetchall(f"SELECT * FROM teams WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (*params, limit, offset))
        return int(total), [_team(r) for r in rows]

    async def insert(self, tx: Transaction, project: str, t: Team) -> None:
        try:
            await tx.execute("INSERT INTO teams (project, id, name, prefs, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                             (project, t.id, t.name, _j(t.prefs), t.created_at, t.updated_at))
        except UniqueViolation:  # the caller checked; a request at the same moment took the id since
            raise AppwriteError("team_already_exists") from None

    async def update(self, tx: Transaction, project: str, t: Team) -> None:
        await tx.execute("UPDATE teams SET name=?, prefs=?, updated_at=? WHERE project=? AND id=?",
                         (t.name, _j(t.prefs), t.updated_at, project, t.id))

    async def delete(self, tx: Transaction, project: str, tid: str) -> None:
        await tx.execute("DELETE FROM memberships WHERE project=? AND team_id=?", (project, tid))
        await tx.execute("DELETE FROM teams WHERE project=? AND id=?", (project, tid))

    # --- memberships ---------------------------------------------------------------------

    async def membership(self, project: str, mid: str, tx: Transaction | None = None) -> Membership | None:
        r = await self._one("SELECT * FROM memberships WHERE project=? AND id=?", (project, mid), tx)
        return _membership(r) if r else None

    async def membership_of(self, project: str, tid: str, uid: str,
                            tx: Transaction | None = None) -> Membership | None:
        r = await self._one("SELECT * FROM memberships WHERE project=? AND team_id=? AND user_id=?",
                            (project, tid, uid), tx)
        return _membership(r) if r else None

    async def memberships(self, project: str, tid: str, limit: int, offset: int) -> tuple[int, list[Membership]]:
        total = (await self.s.fetchone("SELECT COUNT(*) FROM memberships WHERE project=? AND team_id=?",
                                       (project, tid)))[0]
        rows = await self.s.fetchall(
            "SELECT * FROM memberships WHERE project=? AND team_id=? ORDER BY created_at, id LIMIT ? OFFSET ?",
            (project, tid, limit, offset))
        return int(total), [_membership(r) for r in rows]

    async def memberships_of(self, project: str, uid: str, confirmed: bool = False,
                             tx: Transaction | None = None) -> list[Membership]:
        sql = "SELECT * FROM memberships WHERE project=? AND user_id=?"
        rows = await (tx or self.s).fetchall(sql + (" AND confirm=1" if confirmed else "") + " ORDER BY created_at, id",
                                             (project, uid))
        return [_membership(r) for r in rows]

    async def count_confirmed(self, project: str, uid: str, tx: Transaction | None = None) -> int:
        r = await self._one("SELECT COUNT(*) FROM memberships WHERE project=? AND user_id=? AND confirm=1",
                            (project, uid), tx)
        return int(r[0])

    async def insert_membership(self, tx: Transaction, project: str, m: Membership) -> None:
        try:
            await tx.execute(
                "INSERT INTO memberships (project, id, team_id, user_id, roles, invited, joined, confirm, secret_hash,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (project, m.id, m.team_id, m.user_id, _j(m.roles), m.invited, m.joined, int(m.confirm),
                 m.secret_hash, m.created_at, m.updated_at))
        except UniqueViolation:  # the caller checked; a request at the same moment added the user since
            raise AppwriteError("team_invite_already_exists") from None

    async def update_membership(self, tx: Transaction, project: str, m: Membership) -> None:
        await tx.execute(
            "UPDATE memberships SET roles=?, joined=?, confirm=?, secret_hash=?, updated_at=? WHERE project=? AND id=?",
            (_j(m.roles), m.joined, int(m.confirm), m.secret_hash, m.updated_at, project, m.id))

    async def delete_membership(self, tx: Transaction, project: str, mid: str) -> None:
        await tx.execute("DELETE FROM memberships WHERE project=? AND id=?", (project, mid))
