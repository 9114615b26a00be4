"""Users, sessions, teams, memberships and API keys (SQLite and PostgreSQL): plain records, no policy."""

from __future__ import annotations

import orjson

from rtcli.core.ports import Transaction



def _j(v) -> str:
    return orjson.dumps(v).decode()


def _user(r) -> dict:
    d = dict(r)
    d["labels"] = orjson.loads(d["labels"])
    d["prefs"] = orjson.loads(d["prefs"])
    d["status"] = bool(d["status"])
    d["email_verification"] = bool(d["email_verification"])
    return d


def _membership(r) -> dict:
    d = dict(r)
    d["roles"] = orjson.loads(d["roles"])
    d["confirm"] = bool(d["confirm"])
    return d


def _team(r) -> dict:
    d = dict(r)
    d["prefs"] = orjson.loads(d["prefs"])
    return d


class UsersStore:
    def __init__(self, store) -> None:
        self.s = store

    async def _one(self, sql: str, params: tuple, tx: Transaction | None):
        return await (tx.fetchone(sql, params) if tx else self.s.fetchone(sql, params))

    # --- users ---------------------------------------------------------------------------

    async def user(self, project: str, uid: str, tx=None) -> dict | None:
        r = await self._one("SELECT * FROM users WHERE project=? AND id=?", (project, uid), tx)
        return _user(r) if r else None

    async def user_by_email(self, project: str, email: str, tx=None) -> dict | None:
        r = await self._one("SELECT * FROM users WHERE project=? AND email=?", (project, email), tx)
        return _user(r) if r else None

    async def insert_user(self, tx: Transaction, project: str, u: dict) -> None:
        await tx.execute(
            "INSERT INTO users (project, id, email, name, password_hash, status, labels, prefs, email_verification,"
            " registration, password_update, accessed_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (project, u["id"], u["email"], u["name"], u["password_hash"], int(u["status"]), _j(u["labels"]),
             _j(u["prefs"]), int(u["email_verification"]), u["registration"], u["password_update"],
             u["accessed_at"], u["created_at"], u["updated_at"]))

    async def update_user(self, tx: Transaction, project: str, u: dict) -> None:
        await tx.execute(
            "UPDATE users SET email=?, name=?, password_hash=?, status=?, labels=?, prefs=?, email_verification=?,"
            " password_update=?, accessed_at=?, updated_at=? WHERE project=? AND id=?",
            (u["email"], u["name"], u["password_hash"], int(u["status"]), _j(u["labels"]), _j(u["prefs"]),
             int(u["email_verification"]), u["password_update"], u["accessed_at"], u["updated_at"], project, u["id"]))

    # --- sessions ------------------------------------------------------------------------

    async def session(self, project: str, sid: str, tx=None) -> dict | None:
        r = await self._one("SELECT * FROM sessions WHERE project=? AND id=?", (project, sid), tx)
        return dict(r) if r else None

    async def sessions_of(self, project: str, uid: str) -> list[dict]:
        rows = await self.s.fetchall("SELECT * FROM sessions WHERE project=? AND user_id=? ORDER BY created_at",
                                     (project, uid))
        return [dict(r) for r in rows]

    async def insert_session(self, tx: Transaction, project: str, s: dict) -> None:
        await tx.execute(
            "INSERT INTO sessions (project, id, user_id, secret_hash, provider, ip, user_agent, expire, expire_ts,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (project, s["id"], s["user_id"], s["secret_hash"], s["provider"], s["ip"], s["user_agent"], s["expire"],
             s["expire_ts"], s["created_at"], s["updated_at"]))

    async def delete_session(self, tx: Transaction, project: str, sid: str) -> None:
        await tx.execute("DELETE FROM sessions WHERE project=? AND id=?", (project, sid))

    # --- teams and memberships -----------------------------------------------------------

    async def team(self, project: str, tid: str, tx=None) -> dict | None:
        r = await self._one("SELECT * FROM teams WHERE project=? AND id=?", (project, tid), tx)
        return _team(r) if r else None

    async def team_total(self, project: str, tid: str, tx=None) -> int:
        r = await self._one("SELECT COUNT(*) FROM memberships WHERE project=? AND team_id=? AND confirm=1",
                            (project, tid), tx)
        return int(r[0])

    async def teams(self, project: str, uid: str | None, limit: int, offset: int) -> tuple[int, list[dict]]:
        if uid is None:
            where, params = "project=?", (project,)
        else:
            where = "project=? AND id IN (SELECT team_id FROM memberships WHERE project=? AND user_id=? AND confirm=1)"
            params = (project, project, uid)
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM teams WHERE {where}", params))[0]
        rows = await self.s.fetchall(f"SELECT * FROM teams WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (*params, limit, offset))
        return total, [_team(r) for r in rows]

    async def insert_team(self, tx: Transaction, project: str, t: dict) -> None:
        await tx.execute("INSERT INTO teams (project, id, name, prefs, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                         (project, t["id"], t["name"], _j(t["prefs"]), t["created_at"], t["updated_at"]))

    async def update_team(self, tx: Transaction, project: str, t: dict) -> None:
        await tx.execute("UPDATE teams SET name=?, prefs=?, updated_at=? WHERE project=? AND id=?",
                         (t["name"], _j(t["prefs"]), t["updated_at"], project, t["id"]))

    async def delete_team(self, tx: Transaction, project: str, tid: str) -> None:
        await tx.execute("DELETE FROM memberships WHERE project=? AND team_id=?", (project, tid))
        await tx.execute("DELETE FROM teams WHERE project=? AND id=?", (project, tid))

    async def membership(self, project: str, mid: str, tx=None) -> dict | None:
        r = await self._one("SELECT * FROM memberships WHERE project=? AND id=?", (project, mid), tx)
        return _membership(r) if r else None

    async def membership_of(self, project: str, tid: str, uid: str, tx=None) -> dict | None:
        r = await self._one("SELECT * FROM memberships WHERE project=? AND team_id=? AND user_id=?",
                            (project, tid, uid), tx)
        return _membership(r) if r else None

    async def memberships(self, project: str, tid: str, limit: int, offset: int) -> tuple[int, list[dict]]:
        total = (await self.s.fetchone("SELECT COUNT(*) FROM memberships WHERE project=? AND team_id=?",
                                       (project, tid)))[0]
        rows = await self.s.fetchall(
            "SELECT * FROM memberships WHERE project=? AND team_id=? ORDER BY created_at, id LIMIT ? OFFSET ?",
            (project, tid, limit, offset))
        return total, [_membership(r) for r in rows]

    async def confirmed_memberships_of_user(self, project: str, uid: str, tx=None) -> list[dict]:
        sql = "SELECT * FROM memberships WHERE project=? AND user_id=? AND confirm=1"
        rows = await (tx or self.s).fetchall(sql, (project, uid))
        return [_membership(r) for r in rows]

    async def insert_membership(self, tx: Transaction, project: str, m: dict) -> None:
        await tx.execute(
            "INSERT INTO memberships (project, id, team_id, user_id, roles, invited, joined, confirm, secret_hash,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (project, m["id"], m["team_id"], m["user_id"], _j(m["roles"]), m["invited"], m["joined"],
             int(m["confirm"]), m["secret_hash"], m["created_at"], m["updated_at"]))

    async def update_membership(self, tx: Transaction, project: str, m: dict) -> None:
        await tx.execute(
            "UPDATE memberships SET roles=?, joined=?, confirm=?, secret_hash=?, updated_at=? WHERE project=? AND id=?",
            (_j(m["roles"]), m["joined"], int(m["confirm"]), m["secret_hash"], m["updated_at"], project, m["id"]))

    async def delete_membership(self, tx: Transaction, project: str, mid: str) -> None:
        await tx.execute("DELETE FROM memberships WHERE project=? AND id=?", (project, mid))

    # --- API keys ------------------------------------------------------------------------

    async def keys(self, project: str) -> list[dict]:
        rows = await self.s.fetchall("SELECT * FROM api_keys WHERE project=? ORDER BY created_at", (project,))
        return [{**dict(r), "scopes": orjson.loads(r["scopes"])} for r in rows]

    async def insert_key(self, tx: Transaction, project: str, k: dict) -> None:
        await tx.execute(
            "INSERT INTO api_keys (project, id, name, secret_hash, scopes, created_at) VALUES (?,?,?,?,?,?)",
            (project, k["id"], k["name"], k["secret_hash"], _j(k["scopes"]), k["created_at"]))

    async def delete_key(self, tx: Transaction, project: str, kid: str) -> bool:
        return await tx.execute("DELETE FROM api_keys WHERE project=? AND id=?", (project, kid)) > 0
