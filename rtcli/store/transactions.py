"""TablesDB transactions and their staged operations (SQLite and PostgreSQL): records, no policy."""

from __future__ import annotations

from typing import Any

import orjson

from rtcli.core.ports import Store, Transaction
from rtcli.core.records import OperationAction, StagedOperation, TransactionRecord, TransactionStatus


def _record(r: Any) -> TransactionRecord:
    return TransactionRecord(id=r["id"], owner=r["owner"], status=TransactionStatus(r["status"]),
                             operations=r["operations"], expires_at=r["expires_at"], expires_ts=r["expires_ts"],
                             created_at=r["created_at"], updated_at=r["updated_at"])


def _op_json(op: StagedOperation) -> str:
    return orjson.dumps({"action": op.action.value, "databaseId": op.database_id, "tableId": op.table_id,
                         "rowId": op.row_id, "data": op.data}).decode()


def _op(raw: dict[str, Any]) -> StagedOperation:
    return StagedOperation(action=OperationAction(raw["action"]), database_id=raw["databaseId"],
                           table_id=raw["tableId"], row_id=raw["rowId"], data=raw["data"])


class TransactionStore:
    """Implements core.repositories.TransactionRepository, and services.transactions.StagingRepository."""

    def __init__(self, store: Store) -> None:
        self.s = store

    async def get(self, project: str, tid: str, tx: Transaction | None = None) -> TransactionRecord | None:
        r = await (tx or self.s).fetchone("SELECT * FROM transactions WHERE project=? AND id=?", (project, tid))
        return _record(r) if r else None

    async def page(self, project: str, owner: str | None, limit: int, offset: int) -> tuple[int, list[TransactionRecord]]:
        where, params = ("project=?", [project]) if owner is None else ("project=? AND owner=?", [project, owner])
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM transactions WHERE {where}", params))[0]
        rows = await self.s.fetchall(f"SELECT * FROM transactions WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (*params, limit, offset))
        return int(total), [_record(r) for r in rows]

    async def pending_of(self, tx: Transaction, project: str, owner: str | None) -> int:
        """How many pending transactions ``owner`` has (None: those API keys made)."""
        who = "owner IS NULL" if owner is None else "owner=?"
        params = (project,) if owner is None else (project, owner)
        r = await tx.fetchone(f"SELECT COUNT(*) FROM transactions WHERE project=? AND status='pending' AND {who}",
                              params)
        return int(r[0])

    async def insert(self, tx: Transaction, project: str, t: TransactionRecord) -> None:
        await tx.execute(
            "INSERT INTO transactions (project, id, owner, status, operations, expires_at, expires_ts, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (project, t.id, t.owner, t.status.value, t.operations, t.expires_at, t.expires_ts, t.created_at, t.updated_at))

    async def save(self, tx: Transaction, project: str, t: TransactionRecord) -> None:
        await tx.execute("UPDATE transactions SET status=?, operations=?, updated_at=? WHERE project=? AND id=?",
                         (t.status.value, t.operations, t.updated_at, project, t.id))

    async def delete(self, tx: Transaction, project: str, tid: str) -> None:
        await self.drop_operations(tx, project, tid)
        await tx.execute("DELETE FROM transactions WHERE project=? AND id=?", (project, tid))

    async def stage_within(self, tx: Transaction, project: str, tid: str, ops: list[StagedOperation],
                           max_bytes: int) -> int | None:
        """Append ``ops`` if the transaction's staged bytes stay within ``max_bytes``: the new
        total, or None (nothing staged). The check and the count are one UPDATE, so that requests
        at the same moment (on PostgreSQL) cannot together pass the bound."""
        encoded = [_op_json(op) for op in ops]
        size = sum(len(e.encode()) for e in encoded)
        changed = await tx.execute("UPDATE transactions SET staged_bytes = staged_bytes + ? WHERE project=? AND id=?"
                                   " AND staged_bytes + ? <= ?", (size, project, tid, size, max_bytes))
        if not changed:
            return None
        for e in encoded:
            await tx.execute("INSERT INTO transaction_ops (project, txn, op) VALUES (?,?,?)", (project, tid, e))
        r = await tx.fetchone("SELECT staged_bytes FROM transactions WHERE project=? AND id=?", (project, tid))
        return int(r[0])

    async def operations_after(self, tx: Transaction, project: str, tid: str, after: int,
                               limit: int) -> list[tuple[int, StagedOperation]]:
        """The next ``limit`` staged operations after position ``after``, in order, with their positions."""
        rows = await tx.fetchall("SELECT seq, op FROM transaction_ops WHERE project=? AND txn=? AND seq > ?"
                                 " ORDER BY seq LIMIT ?", (project, tid, after, limit))
        return [(int(r[0]), _op(orjson.loads(r[1]))) for r in rows]

    async def drop_operations(self, tx: Transaction, project: str, tid: str) -> None:
        # Up to a transaction's bound of staged data: off the event loop on SQLite.
        await tx.execute("DELETE FROM transaction_ops WHERE project=? AND txn=?", (project, tid), bulk=True)
        await tx.execute("UPDATE transactions SET staged_bytes = 0 WHERE project=? AND id=?", (project, tid))

    async def past_expiry(self, now: float, limit: int = 500) -> list[tuple[str, str]]:
        """(project, id) of transactions past their expiry, whatever their status."""
        rows = await self.s.fetchall("SELECT project, id FROM transactions WHERE expires_ts < ? LIMIT ?", (now, limit))
        return [(r[0], r[1]) for r in rows]
