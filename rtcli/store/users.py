"""Users, their sessions and tokens (SQLite and PostgreSQL): typed records, no policy."""

from __future__ import annotations

from typing import Any

import orjson

from rtcli.core.ports import Store, Transaction
from rtcli.core.queries import ListPlan, Query
from rtcli.core.records import Session, TokenRecord, UserRecord
from rtcli.errors import AppwriteError
from rtcli.store.dialect import UniqueViolation
from rtcli.store.sqlquery import Attr, where_clause

# What a Users API query may filter and order by (Appwrite's Users query validator, plus the
# system attributes), and the column each is stored in.
USER_ATTRIBUTES = {"$id": "id", "$createdAt": "created_at", "$updatedAt": "updated_at", "name": "name",
                   "email": "email", "phone": "phone", "status": "status", "passwordUpdate": "password_update",
                   "registration": "registration", "emailVerification": "email_verification",
                   "phoneVerification": "phone_verification", "accessedAt": "accessed_at"}
_BOOLEANS = frozenset({"status", "emailVerification", "phoneVerification"})


def _j(v: object) -> str:
    return orjson.dumps(v).decode()


def _user_record(r: Any) -> UserRecord:
    return UserRecord(
        id=r["id"], email=r["email"], name=r["name"], registration=r["registration"], created_at=r["created_at"],
        updated_at=r["updated_at"], accessed_at=r["accessed_at"], password_hash=r["password_hash"], hash=r["hash"],
        hash_options=orjson.loads(r["hash_options"]), password_update=r["password_update"], status=bool(r["status"]),
        labels=orjson.loads(r["labels"]), prefs=orjson.loads(r["prefs"]),
        email_verification=bool(r["email_verification"]), phone=r["phone"],
        phone_verification=bool(r["phone_verification"]))


def _session(r: Any) -> Session:
    return Session(id=r["id"], user_id=r["user_id"], secret_hash=r["secret_hash"], provider=r["provider"], ip=r["ip"],
                   user_agent=r["user_agent"], expire=r["expire"], expire_ts=r["expire_ts"],
                   created_at=r["created_at"], updated_at=r["updated_at"])


def _user_query(q: Query) -> Query:
    """Booleans are stored as 0/1 (PostgreSQL would refuse a bool for an integer column)."""
    if q.method in ("and", "or"):
        return Query(q.method, None, tuple(_user_query(s) for s in q.values))
    if q.attribute in _BOOLEANS:
        return Query(q.method, q.attribute, tuple(int(v) if isinstance(v, bool) else v for v in q.values))
    return q


class UsersStore:
    def __init__(self, store: Store) -> None:
        self.s = store
        self.d: Any = store.dialect  # store/dialect.py: SqliteDialect or PostgresDialect

    async def _one(self, sql: str, params: tuple[Any, ...], tx: Transaction | None) -> Any:
        return await (tx.fetchone(sql, params) if tx else self.s.fetchone(sql, params))

    # --- users ---------------------------------------------------------------------------

    async def get_user(self, project: str, uid: str, tx: Transaction | None = None) -> UserRecord | None:
        r = await self._one("SELECT * FROM users WHERE project=? AND id=?", (project, uid), tx)
        return _user_record(r) if r else None

    async def get_user_by_email(self, project: str, email: str, tx: Transaction | None = None) -> UserRecord | None:
        r = await self._one("SELECT * FROM users WHERE project=? AND email=?", (project, email), tx)
        return _user_record(r) if r else None

    def _user_filter(self, q: Query, params: list[Any]) -> str:
        if q.attribute == "labels" and q.method in ("equal", "contains"):
            return str(self.d.any_role("labels", [str(v) for v in q.values], params))
        return where_clause(self.d, _user_query(q), params, set(), USER_ATTRIBUTES)

    async def list_users(self, project: str, plan: ListPlan, search: str) -> tuple[int, list[UserRecord]]:
        d = self.d
        where, params = ["project=?"], [project]
        haystack = "(id || ' ' || COALESCE(email, '') || ' ' || COALESCE(phone, '') || ' ' || name)"
        for word in search.split():
            where.append(d.contains(haystack, word, params, ci=True))
        for q in plan.filters:
            where.append(self._user_filter(q, params))
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM users WHERE {' AND '.join(where)}", params))[0]
        orders = [(USER_ATTRIBUTES.get(a) or Attr(d, a, USER_ATTRIBUTES).column, o) for a, o in plan.orders]
        orders = (orders or [("created_at", "ASC")]) + [("id", orders[-1][1] if orders else "ASC")]
        reverse = plan.cursor is not None and plan.cursor[0] == "before"
        if reverse:
            orders = [(c, "DESC" if o == "ASC" else "ASC") for c, o in orders]
        if plan.cursor is not None:
            anchor = await self.s.fetchone("SELECT * FROM users WHERE project=? AND id=?", (project, plan.cursor[1]))
            if anchor is None:
                raise AppwriteError("general_cursor_not_found", f"User '{plan.cursor[1]}' for the 'cursor' value not found.")
            ors = []
            for i, (col, o) in enumerate(orders):
                same = [f"{c} {d.same} ?" for c, _ in orders[:i]]
                params.extend(anchor[c] for c, _ in orders[:i])
                params.append(anchor[col])
                ors.append("(" + " AND ".join(same + [f"{col} {'>' if o == 'ASC' else '<'} ?"]) + ")")
            where.append("(" + " OR ".join(ors) + ")")
        order_sql = ", ".join(f"{c} {o}" for c, o in orders)
        rows = await self.s.fetchall(
            f"SELECT * FROM users WHERE {' AND '.join(where)} ORDER BY {order_sql} LIMIT ? OFFSET ?",
            (*params, plan.limit, plan.offset))
        users = [_user_record(r) for r in rows]
        if reverse:
            users.reverse()
        return total, users

    async def add_user(self, tx: Transaction, project: str, u: UserRecord) -> None:
        if await tx.fetchone("SELECT 1 FROM users WHERE project=? AND (id=? OR email=? OR phone=?)",
                             (project, u.id, u.email, u.phone)):
            raise AppwriteError("user_already_exists")
        try:
            await tx.execute(
                "INSERT INTO users (project, id, email, name, password_hash, hash, hash_options, status, labels, prefs,"
                " email_verification, phone, phone_verification, registration, password_update, accessed_at,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (project, u.id, u.email, u.name, u.password_hash, u.hash, _j(u.hash_options), int(u.status),
                 _j(u.labels), _j(u.prefs), int(u.email_verification), u.phone, int(u.phone_verification),
                 u.registration, u.password_update, u.accessed_at, u.created_at, u.updated_at))
        except UniqueViolation:  # taken since the check, by a request at the same moment
            raise AppwriteError("user_already_exists") from None

    async def save_user(self, tx: Transaction, project: str, u: UserRecord) -> None:
        await tx.execute(
            "UPDATE users SET email=?, name=?, password_hash=?, hash=?, hash_options=?, status=?, labels=?, prefs=?,"
            " email_verification=?, phone=?, phone_verification=?, password_update=?, updated_at=?"
            " WHERE project=? AND id=?",
            (u.email, u.name, u.password_hash, u.hash, _j(u.hash_options), int(u.status), _j(u.labels), _j(u.prefs),
             int(u.email_verification), u.phone, int(u.phone_verification), u.password_update, u.updated_at,
             project, u.id))

    async def delete_user(self, tx: Transaction, project: str, uid: str) -> None:
        for table in ("sessions", "tokens", "memberships"):
            await tx.execute(f"DELETE FROM {table} WHERE project=? AND user_id=?", (project, uid))
        await tx.execute("DELETE FROM users WHERE project=? AND id=?", (project, uid))

    async def taken(self, project: str, column: str, value: str, uid: str, tx: Transaction) -> bool:
        assert column in ("email", "phone")
        return await tx.fetchone(f"SELECT 1 FROM users WHERE project=? AND {column}=? AND id<>?",
                                 (project, value, uid)) is not None

    # --- tokens --------------------------------------------------------------------------

    async def add_token(self, tx: Transaction, project: str, t: TokenRecord) -> None:
        await tx.execute("INSERT INTO tokens (project, id, user_id, secret_hash, expire, expire_ts, created_at)"
                         " VALUES (?,?,?,?,?,?,?)",
                         (project, t.id, t.user_id, t.secret_hash, t.expire, t.expire_ts, t.created_at))

    async def tokens_of(self, project: str, uid: str, tx: Transaction) -> list[TokenRecord]:
        rows = await tx.fetchall("SELECT * FROM tokens WHERE project=? AND user_id=?", (project, uid))
        return [TokenRecord(id=r["id"], user_id=r["user_id"], secret_hash=r["secret_hash"], expire=r["expire"],
                            expire_ts=r["expire_ts"], created_at=r["created_at"]) for r in rows]

    async def delete_token(self, tx: Transaction, project: str, token_id: str) -> None:
        await tx.execute("DELETE FROM tokens WHERE project=? AND id=?", (project, token_id))

    # --- sessions ------------------------------------------------------------------------

    async def session(self, project: str, sid: str, tx: Transaction | None = None) -> Session | None:
        r = await self._one("SELECT * FROM sessions WHERE project=? AND id=?", (project, sid), tx)
        return _session(r) if r else None

    async def sessions_of(self, project: str, uid: str) -> list[Session]:
        rows = await self.s.fetchall("SELECT * FROM sessions WHERE project=? AND user_id=? ORDER BY created_at",
                                     (project, uid))
        return [_session(r) for r in rows]

    async def insert_session(self, tx: Transaction, project: str, s: Session) -> None:
        await tx.execute(
            "INSERT INTO sessions (project, id, user_id, secret_hash, provider, ip, user_agent, expire, expire_ts,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (project, s.id, s.user_id, s.secret_hash, s.provider, s.ip, s.user_agent, s.expire, s.expire_ts,
             s.created_at, s.updated_at))

    async def extend_session(self, tx: Transaction, project: str, s: Session) -> None:
        await tx.execute("UPDATE sessions SET expire=?, expire_ts=?, updated_at=? WHERE project=? AND id=?",
                         (s.expire, s.expire_ts, s.updated_at, project, s.id))

    async def delete_session(self, tx: Transaction, project: str, sid: str) -> None:
        await tx.execute("DELETE FROM sessions WHERE project=? AND id=?", (project, sid))
