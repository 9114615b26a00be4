"""TablesDB transactions: stage row operations, then commit them all or none.

Operations are checked when staged (the table exists, the row id is valid) and applied on
commit in one database transaction, in the order they were staged, through the same row use
cases as a direct write (validation, permissions of the committing caller, events). Their
events are appended to the log in that transaction, so they are published only after it
commits, together and in order; a failing operation rolls all of them back and publishes
nothing. A rollback (or an expiry) discards the staged operations: nothing was written.

Transactions are the caller's own: an API key (``rows.write``) sees every one; a signed-in user
only those it made. Guests cannot make them.

What one caller can make the server hold and do is bounded: the caller and the number of
operations are checked before an operation is read; each operation's data is checked as the
row write would check it (against the table's columns as staging sees them) before it is
stored; a transaction stages at most ``MAX_STAGED_BYTES`` and a user keeps at most
``MAX_OPEN_PER_USER`` pending. A commit reads the operations in batches, and one that fails
ends the transaction (its operations are discarded), so that it cannot be run again. Ended
transactions are removed, with expired ones, once their time to live has passed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from rtcli import ids, protocol
from rtcli.core import permissions, schema
from rtcli.core.permissions import ActorKind
from rtcli.core.ports import Store, Transaction
from rtcli.core.repositories import TransactionRepository
from rtcli.core.queries import parse_many
from rtcli.core.queries import plan as list_plan
from rtcli.core.records import Column, OperationAction, StagedOperation, Table, TransactionRecord, TransactionStatus
from rtcli.errors import AppwriteError, invalid
from rtcli.services.context import Ctx
from rtcli.services.rows import Rows
from rtcli.services.tablesdb import ROW_PERMISSION_ACTIONS, Body, Model

log = logging.getLogger("rtcli.transactions")

TTL_MIN, TTL_MAX, TTL_DEFAULT = 60, 3600, 300
MAX_OPERATIONS = 100  # Appwrite's APP_LIMIT_DATABASE_TRANSACTION
# The encoded operations one transaction may stage: one request body's worth (the server's
# default --max-body), so that a commit applies no more than a direct write could send, and
# a user's pending transactions hold at most MAX_OPEN_PER_USER times this.
MAX_STAGED_BYTES = 10 * 1024 * 1024
# Pending transactions at once: per signed-in user (an anonymous session is free to make), and
# for all of the project's API keys together (a server's own use, bounded against a runaway loop).
MAX_OPEN_PER_USER = 10
MAX_OPEN_PER_KEYS = 100
# Operations a commit reads and applies at a time: it never holds them all decoded at once.
COMMIT_BATCH = 10
PURGE_BATCH = 500  # transactions removed per query of the housekeeping pass
ACTIONS = tuple(a.value for a in OperationAction)
NUMERIC = ("integer", "float")


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
    if problem := protocol.json_problem(data):  # before anything walks or encodes it
        raise AppwriteError("row_invalid_structure", f"Invalid document structure: data must not have {problem}")
    if action == "create" and row == "unique()":
        row = ids.unique()
    return StagedOperation(action=OperationAction(action), database_id=raw["databaseId"], table_id=str(table),
                           row_id=str(row), data=data)


def _structure(message: str) -> AppwriteError:
    return AppwriteError("row_invalid_structure", f"Invalid document structure: {message}")


def _fields(ctx: Ctx, columns: tuple[Column, ...], data: dict[str, Any], creating: bool) -> None:
    """A create's, update's or upsert's data as the row write will check it: its fields against
    the columns (all of them on a create; on an update those it sets: the row holds the rest),
    its ``$permissions`` as permissions the caller may grant."""
    fields = {k: v for k, v in data.items() if not k.startswith("$")}
    if creating:
        schema.validate_row(columns, fields, creating=True)
    else:
        by_key = {c.key: c for c in columns}
        if unknown := next((k for k in fields if columns and k not in by_key), None):
            raise _structure(f'Unknown attribute: "{unknown}"')
        schema.validate_row([by_key[k] for k in fields if k in by_key], fields, creating=False)
    if data.get("$permissions") is not None:
        ctx.assert_can_grant(permissions.parse_list(data["$permissions"], ROW_PERMISSION_ACTIONS))


def _counter(columns: tuple[Column, ...], action: OperationAction, data: dict[str, Any]) -> dict[str, Any]:
    """An increment's or decrement's data, checked as the row write checks it; only what it uses is kept."""
    column, value = data.get("column"), data.get("value", 1)
    if not isinstance(column, str):
        raise invalid(f"An {action} operation names its `column` in its data.")
    col = next((c for c in columns if c.key == column), None)
    if columns and (col is None or col.kind not in NUMERIC):
        raise AppwriteError("column_not_found" if col is None else "column_type_invalid",
                            f"Column '{column}' is not a numeric column of this table.")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise invalid("Invalid `value` param: Value must be a positive number.")
    bound_key = "max" if action is OperationAction.INCREMENT else "min"
    bound = data.get(bound_key)
    if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
        raise invalid(f"Invalid `{bound_key}` param: Value must be a number.")
    return {"column": column, "value": value, **({bound_key: bound} if bound is not None else {})}


def _checked(ctx: Ctx, table: Table, op: StagedOperation) -> StagedOperation:
    """``op`` as it will be stored, once its data passed the checks the row write makes (the
    commit checks again, against the columns the database has then)."""
    if op.action is OperationAction.DELETE:
        return replace(op, data={})  # a delete uses none of it
    if op.action in (OperationAction.INCREMENT, OperationAction.DECREMENT):
        return replace(op, data=_counter(table.columns, op.action, op.data))
    _fields(ctx, table.columns, op.data, creating=op.action is OperationAction.CREATE)
    return op


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
        bound = MAX_OPEN_PER_KEYS if ctx.actor.is_key else MAX_OPEN_PER_USER
        async with self.store.transaction(ctx.actor.origin) as tx:
            if await self.repo.pending_of(tx, ctx.project, t.owner) >= bound:
                raise AppwriteError("transaction_limit_exceeded", f"{'API keys' if ctx.actor.is_key else 'A user'} may "
                                    f"have at most {bound} pending transactions: commit, roll back or delete one "
                                    "before creating another (an expired one counts until it is deleted).")
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
        """POST …/operations (or a row write with ``transactionId``): add operations, in order.
        The caller, its transaction and the number of operations are checked before any
        operation is read, or any table looked up: a caller without a transaction learns
        nothing of the tables, and a long list costs nothing."""
        if not isinstance(raw_ops, list) or not raw_ops:
            raise AppwriteError("general_bad_request", "Operations array cannot be empty")
        self._within(await self._own(ctx, tid), len(raw_ops))
        ops: list[StagedOperation] = []
        tables: dict[tuple[str, str], Table] = {}
        for op in map(_operation, raw_ops):
            key = (op.database_id, op.table_id)  # the tables exist now (a later operation may make the rows)
            if key not in tables:
                tables[key] = await self.rows.tables.table(ctx, *key)
            ops.append(_checked(ctx, tables[key], op))
        async with self.store.transaction(ctx.actor.origin) as tx:
            t = self._within(await self._own(ctx, tid, tx), len(ops))
            if await self.repo.stage_within(tx, ctx.project, tid, ops, MAX_STAGED_BYTES) is None:
                raise AppwriteError("transaction_limit_exceeded", f"A transaction stages at most {MAX_STAGED_BYTES:,} "
                                    "bytes of operations, and these would pass it: commit this transaction, and "
                                    "stage the rest in another.")
            t = replace(t, operations=t.operations + len(ops), updated_at=ids.format_datetime())
            await self.repo.save(tx, ctx.project, t)
        return transaction_model(t)

    @classmethod
    def _within(cls, t: TransactionRecord, adding: int) -> TransactionRecord:
        """``t``, if it takes ``adding`` more operations."""
        cls._usable(t)
        if t.operations + adding > MAX_OPERATIONS:
            raise AppwriteError("transaction_limit_exceeded", f"Transaction already has {t.operations} "
                                f"operations, adding {adding} would exceed the maximum of {MAX_OPERATIONS}")
        return t

    async def update(self, ctx: Ctx, tid: str, body: Body) -> Model:
        """PATCH {commit: true} or {rollback: true}. A commit that fails ends the transaction
        ``failed``, as Appwrite's does (nothing of it was applied, its operations are discarded),
        so that the same failing commit cannot be sent again and again."""
        commit, rollback = body.get("commit") is True, body.get("rollback") is True
        if commit == rollback:
            raise AppwriteError("general_bad_request", "Either commit or rollback must be true (not both).")
        applying = False
        try:
            async with self.store.transaction(ctx.actor.origin) as tx:
                t = await self._own(ctx, tid, tx)  # on PostgreSQL, locked: one commit at a time
                self._usable(t)
                if commit:
                    applying = True
                    await self._apply_all(ctx, tid, tx)
                await self.repo.drop_operations(tx, ctx.project, tid)
                t = replace(t, status=TransactionStatus.COMMITTED if commit else TransactionStatus.ROLLED_BACK,
                            updated_at=ids.format_datetime())
                await self.repo.save(tx, ctx.project, t)
        except Exception:
            if applying:
                try:
                    await self._end_failed(ctx, tid)
                except Exception:  # the store is failing: the commit's own error says more
                    log.exception("could not end the failed transaction %s", tid)
            raise
        return transaction_model(t)

    async def _apply_all(self, ctx: Ctx, tid: str, tx: Transaction) -> None:
        after = 0
        while batch := await self.repo.operations_after(tx, ctx.project, tid, after, COMMIT_BATCH):
            for _, op in batch:
                await self._apply(ctx, op, tx)
            after = batch[-1][0]

    async def _end_failed(self, ctx: Ctx, tid: str) -> None:
        """After a commit failed (and wrote nothing): end the transaction and discard what it staged."""
        async with self.store.transaction(ctx.actor.origin) as tx:
            t = await self.repo.get(ctx.project, tid, tx)
            if t is not None and t.status is TransactionStatus.PENDING:
                await self.repo.drop_operations(tx, ctx.project, tid)
                await self.repo.save(tx, ctx.project, replace(t, status=TransactionStatus.FAILED,
                                                              updated_at=ids.format_datetime()))

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

    async def clean_expired(self, now: float | None = None) -> int:
        """Remove the transactions past their expiry: pending ones with what they staged (nothing
        of it was applied or published), and ended ones, kept until then so that their status can
        be read. ``now``: the clock to judge by (the current time by default)."""
        gone = 0
        while True:
            clock = time.time() if now is None else now
            batch, before = await self.repo.past_expiry(clock, PURGE_BATCH), gone
            for project, tid in batch:
                async with self.store.transaction() as tx:
                    t = await self.repo.get(project, tid, tx)
                    if t is not None and t.expires_ts < clock:
                        await self.repo.delete(tx, project, tid)
                        gone += 1
            if len(batch) < PURGE_BATCH or gone == before:  # all of them, or none could go
                return gone
