"""TablesDB transactions: stage row operations, then commit them all or none.

Operations are checked when staged (the table exists, the row id is valid) and applied on
commit in one database transaction, in the order they were staged, through the same row use
cases as a direct write (validation, permissions of the committing caller, events). Their
events are appended to the log in that transaction, so they are published only after it
commits, together and in order; a failing operation rolls all of them back and publishes
nothing. A rollback (or an expiry) discards the staged operations: nothing was written.

Transactions are the caller's own: an API key (``rows.write``) sees every one; a signed-in user
only those it made. Guests cannot make them.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from rtcli import ids
from rtcli.core.permissions import ActorKind
from rtcli.core.ports import Store, Transaction
from rtcli.core.repositories import TransactionRepository
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import OperationAction, StagedOperation, TransactionRecord, TransactionStatus
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.rows import Rows
from rtcli.services.tablesdb import Body, Model

TTL_MIN, TTL_MAX, TTL_DEFAULT = 60, 3600, 300
MAX_OPERATIONS = 100
ACTIONS = tuple(a.value for a in OperationAction)


def transaction_model(t: TransactionRecord) -> Model:
    return {"$id": t.id, "$createdAt": t.created_at, "$updatedAt": t.updated_at, "status": t.status.value,
            "operations": t.operations, "expiresAt": t.expires_at}


def _not_found(tid: str) -> AppwriteError:
    return AppwriteError("transaction_not_found", f"Transaction with the requested ID '{tid}' could not be found.")


def _operation(raw: Any) -> StagedOperation:
    """One operation to stage, checked."""
    if not isinstance(raw, dict):
        raise invalid("Invalid `operations` param: each operation is an object.")
    action = raw.get("action")
    if action not in ACTIONS:
        raise AppwriteError("transaction_invalid", f"Invalid action '{action}': one of {', '.join(ACTIONS)} "
                            "(bulk operations are not supported in transactions here).")
    table = raw.get("tableId", raw.get("collectionId"))
    row = raw.get("rowId", raw.get("documentId"))
    for name, value in (("databaseId", raw.get("databaseId")), ("tableId", table), ("rowId", row)):
        if not ids.is_custom_id(value) and not (name == "rowId" and action == "create" and value == "unique()"):
            raise invalid(f"Invalid `{name}` of a {action} operation: a valid id is needed.")
    data = raw.get("data") or {}
    if not isinstance(data, dict):
        raise invalid("Invalid `data` of an operation: a JSON object.")
    if action == "create" and row == "unique()":
        row = ids.unique()
    return StagedOperation(action=OperationAction(action), database_id=raw["databaseId"], table_id=str(table),
                           row_id=str(row), data=data)


class Transactions:
    def __init__(self, store: Store, repo: TransactionRepository, rows: Rows) -> None:
        self.store = store
        self.repo = repo
        self.rows = rows

    @staticmethod
    def _require(ctx: Ctx) -> None:
        if ctx.actor.kind is ActorKind.GUEST:
            raise AppwriteError("general_unauthorized_scope", 'User (role: guests) missing scopes (["rows.write"])')
        ctx.require_scope("rows.write")

    async def _own(self, ctx: Ctx, tid: str, tx: Transaction | None = None) -> TransactionRecord:
        self._require(ctx)
        t = await self.repo.get(ctx.project, tid, tx)
        if t is None or (not ctx.actor.is_key and t.owner != ctx.actor.user_id):
            raise _not_found(tid)
        return t

    @staticmethod
    def _usable(t: TransactionRecord) -> None:
        if t.status is not TransactionStatus.PENDING:
            raise AppwriteError("transaction_not_ready", f"The transaction is {t.status}, no longer pending.")
        if t.expires_ts < time.time():
            raise AppwriteError("transaction_expired", "The transaction has expired: create a new one.")

    async def create(self, ctx: Ctx, body: Body) -> Model:
        self._require(ctx)
        ttl = body.get("ttl", TTL_DEFAULT)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not TTL_MIN <= ttl <= TTL_MAX:
            raise invalid(f"Invalid `ttl` param: Value must be a valid range between {TTL_MIN} and {TTL_MAX:,}")
        now, expires = ids.format_datetime(), time.time() + ttl
        t = TransactionRecord(id=ids.unique(), owner=ctx.actor.user_id, status=TransactionStatus.PENDING, operations=0,
                              expires_at=ids.format_datetime(expires), expires_ts=expires, created_at=now, updated_at=now)
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self.repo.insert(tx, ctx.project, t)
        return transaction_model(t)

    async def get(self, ctx: Ctx, tid: str) -> Model:
        return transaction_model(await self._own(ctx, tid))

    async def list(self, ctx: Ctx, queries: list[Any]) -> Model:
        self._require(ctx)
        p = list_plan(parse_many(queries))
        total, ts = await self.repo.page(ctx.project, None if ctx.actor.is_key else ctx.actor.user_id, p.limit, p.offset)
        return {"total": total, "transactions": [transaction_model(t) for t in ts]}

    async def delete(self, ctx: Ctx, tid: str) -> None:
        async with self.store.transaction(ctx.actor.origin) as tx:
            await self._own(ctx, tid, tx)
            await self.repo.delete(tx, ctx.project, tid)

    async def stage(self, ctx: Ctx, tid: str, raw_ops: Any) -> Model:
        """POST …/operations (or a row write with ``transactionId``): add operations, in order."""
        if not isinstance(raw_ops, list) or not raw_ops:
            raise AppwriteError("general_bad_request", "Operations array cannot be empty")
        ops = [_operation(op) for op in raw_ops]
        for op in ops:  # the tables exist now (the rows may not: a later operation may make them)
            await self.rows.tables.table(ctx, op.database_id, op.table_id)
        async with self.store.transaction(ctx.actor.origin) as tx:
            t = await self._own(ctx, tid, tx)
            self._usable(t)
            if t.operations + len(ops) > MAX_OPERATIONS:
                raise AppwriteError("transaction_limit_exceeded", f"Transaction already has {t.operations} "
                                    f"operations, adding {len(ops)} would exceed the maximum of {MAX_OPERATIONS}")
            await self.repo.stage(tx, ctx.project, tid, ops)
            t = replace(t, operations=t.operations + len(ops), updated_at=ids.format_datetime())
            await self.repo.save(tx, ctx.project, t)
        return transaction_model(t)

    async def update(self, ctx: Ctx, tid: str, body: Body) -> Model:
        """PATCH {commit: true} or {rollback: true}."""
        commit, rollback = body.get("commit") is True, body.get("rollback") is True
        if commit == rollback:
            raise AppwriteError("general_bad_request", "Either commit or rollback must be true (not both).")
        async with self.store.transaction(ctx.actor.origin) as tx:
            t = await self._own(ctx, tid, tx)
            self._usable(t)
            if commit:
                for op in await self.repo.operations(tx, ctx.project, tid):
                    await self._apply(ctx, op, tx)
            await self.repo.drop_operations(tx, ctx.project, tid)
            t = replace(t, status=TransactionStatus.COMMITTED if commit else TransactionStatus.ROLLED_BACK,
                        updated_at=ids.format_datetime())
            await self.repo.save(tx, ctx.project, t)
        return transaction_model(t)

    async def _apply(self, ctx: Ctx, op: StagedOperation, tx: Transaction) -> None:
        db, table, row, data, action = op.database_id, op.table_id, op.row_id, op.data, op.action
        body: Body = {"data": {k: v for k, v in data.items() if not k.startswith("$")}}
        if "$permissions" in data:
            body["permissions"] = data["$permissions"]
        if action is OperationAction.CREATE:
            await self.rows.create(ctx, db, table, {**body, "rowId": row}, tx)
        elif action in (OperationAction.UPDATE, OperationAction.UPSERT):
            await self.rows.update(ctx, db, table, row, body, upsert=action is OperationAction.UPSERT, tx=tx)
        elif action is OperationAction.DELETE:
            await self.rows.delete(ctx, db, table, row, tx)
        else:
            column = data.get("column")
            if not isinstance(column, str):
                raise invalid(f"An {action} operation names its `column` in its data.")
            await self.rows.increment(ctx, db, table, row, column, {k: v for k, v in data.items() if k != "column"},
                                      1 if action is OperationAction.INCREMENT else -1, tx)

    async def clean_expired(self) -> int:
        """Remove the pending transactions past their expiry, with what they staged (nothing of
        it was applied or published)."""
        gone = 0
        for project, tid in await self.repo.expired(time.time()):
            async with self.store.transaction() as tx:
                t = await self.repo.get(project, tid, tx)
                if t is not None and t.status is TransactionStatus.PENDING and t.expires_ts < time.time():
                    await self.repo.delete(tx, project, tid)
                    gone += 1
        return gone
