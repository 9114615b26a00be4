"""The repositories: how the services read and write each kind of record, on either database.

Each is a ``typing.Protocol`` that ``rtcli/store/`` implements once for SQLite and PostgreSQL
(through the dialect); the services hold no policy of the store's and the store none of theirs.
The infrastructure ports (the store, its transactions, the broker, the function runner) are in
``core/ports.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rtcli.core.event import Event, Origin
from rtcli.core.ports import Transaction
from rtcli.core.topics import Topic
from rtcli.core.queries import ListPlan
from rtcli.core.records import (ApiKey, Bucket, Column, Database, Execution, File, Function, FunctionTrigger, Index,
                                Membership, Presence, Row, Session, StagedOperation, Table, Team, TokenRecord,
                                TransactionRecord, UserRecord)


class TopicRepository(Protocol):
    """Topic records (store/topics.py), on either database. No policy: the service decides."""

    async def get(self, project: str, topic_id: str, tx: Transaction | None = None) -> Topic | None: ...

    async def insert(self, tx: Transaction, topic: Topic) -> None:
        """Raises ``topic_already_exists`` when the id is taken."""

    async def update(self, tx: Transaction, topic: Topic) -> None: ...

    async def delete(self, tx: Transaction, project: str, topic_id: str) -> None: ...

    async def list(self, project: str, limit: int, offset: int,
                   visible_to: list[str] | None) -> tuple[int, list[Topic]]:
        """A page of the project's topics, oldest first; with ``visible_to``, only those on
        which one of these roles holds a permission."""


class TeamRepository(Protocol):
    """Teams and memberships (store/teams.py). Writes take the caller's transaction."""

    async def get(self, project: str, tid: str, tx: Transaction | None = None) -> Team | None: ...

    async def total(self, project: str, tid: str, tx: Transaction | None = None) -> int:
        """The team's confirmed members."""

    async def page(self, project: str, member: str | None, limit: int, offset: int) -> tuple[int, list[Team]]:
        """A page of the project's teams, oldest first; with ``member``, only the teams that user
        has joined (confirmed)."""

    async def insert(self, tx: Transaction, project: str, t: Team) -> None: ...

    async def update(self, tx: Transaction, project: str, t: Team) -> None: ...

    async def delete(self, tx: Transaction, project: str, tid: str) -> None:
        """The team with its memberships."""

    async def membership(self, project: str, mid: str, tx: Transaction | None = None) -> Membership | None: ...

    async def membership_of(self, project: str, tid: str, uid: str,
                            tx: Transaction | None = None) -> Membership | None: ...

    async def memberships(self, project: str, tid: str, limit: int, offset: int) -> tuple[int, list[Membership]]: ...

    async def memberships_of(self, project: str, uid: str, confirmed: bool = False,
                             tx: Transaction | None = None) -> list[Membership]:
        """A user's memberships, oldest first (``confirmed``: only those that grant roles)."""

    async def count_confirmed(self, project: str, uid: str, tx: Transaction | None = None) -> int: ...

    async def insert_membership(self, tx: Transaction, project: str, m: Membership) -> None: ...

    async def update_membership(self, tx: Transaction, project: str, m: Membership) -> None: ...

    async def delete_membership(self, tx: Transaction, project: str, mid: str) -> None: ...


class ProjectRepository(Protocol):
    """Projects and their server API keys (store/projects.py). Writes take the caller's transaction."""

    async def project_ids(self) -> set[str]: ...

    async def add_project(self, tx: Transaction, project: str, created_at: str) -> None:
        """Nothing when it exists."""

    async def all_keys(self) -> list[ApiKey]:
        """Every project's keys."""

    async def keys(self, project: str) -> list[ApiKey]:
        """The project's keys, oldest first."""

    async def server_keys(self, project: str, secret_hash: str, key_id: str, name: str,
                          scopes: list[str]) -> list[ApiKey]:
        """The keys with this hash, and the project's keys with ``key_id`` or with both ``name``
        and ``scopes``: what a new server key replaces."""

    async def insert_key(self, tx: Transaction, k: ApiKey) -> None: ...

    async def delete_key(self, tx: Transaction, project: str, kid: str) -> bool:
        """Whether there was such a key."""

    async def delete_keys(self, tx: Transaction, project: str, secret_hash: str, key_id: str) -> None:
        """The keys with this hash, and the project's key ``key_id``."""


class PresenceRepository(Protocol):
    """Presences (store/presence.py): at most one per user (a unique index holds it)."""

    async def get(self, project: str, pid: str, tx: Transaction | None = None) -> Presence | None: ...

    async def of_user(self, project: str, user_id: str, tx: Transaction | None = None) -> Presence | None: ...

    async def insert(self, tx: Transaction, project: str, p: Presence, read_roles: list[str]) -> None:
        """A new presence; ``read_roles`` are who may read it (what a user's list filters on).
        UniqueViolation when its id is taken or its user has one."""

    async def save(self, tx: Transaction, project: str, p: Presence, read_roles: list[str]) -> None:
        """An existing presence's new state (UniqueViolation when it moves to a user who has one)."""

    async def delete(self, tx: Transaction, project: str, pid: str) -> None: ...

    async def expired(self, now: float) -> list[tuple[str, Presence]]:
        """(project, presence) of every node's presences whose expiry is past."""

    async def of_connection(self, connection: str) -> list[tuple[str, Presence]]: ...

    async def of_source(self, source: str) -> list[tuple[str, Presence]]: ...

    async def refresh(self, connections: list[str], expires_ts: float, expires_at: str) -> None:
        """Push back the expiry of the presences of these live connections (its own transaction)."""

    async def list(self, project: str, plan: ListPlan,
                   read_filter: list[str] | None) -> tuple[int, list[Presence]]:
        """A page, oldest first; with ``read_filter``, only those one of these roles may read."""


class UserRepository(Protocol):
    """Users, their sessions and tokens, as the Users API reads and writes them. Writes take the
    caller's transaction; reads outside one see committed data."""

    async def get_user(self, project: str, uid: str, tx: Transaction | None = None) -> UserRecord | None: ...

    async def get_user_by_email(self, project: str, email: str,
                                tx: Transaction | None = None) -> UserRecord | None: ...

    async def list_users(self, project: str, plan: ListPlan, search: str) -> tuple[int, list[UserRecord]]:
        """Users matching the plan's filters and every word of ``search`` (in id, email, phone or
        name), in the plan's order, paged; with the total before paging."""

    async def add_user(self, tx: Transaction, project: str, user: UserRecord) -> None:
        """Raises 409 ``user_already_exists`` when the id, email or phone is taken."""

    async def save_user(self, tx: Transaction, project: str, user: UserRecord) -> None: ...

    async def delete_user(self, tx: Transaction, project: str, uid: str) -> None:
        """The user with its sessions, tokens and memberships."""

    async def taken(self, project: str, column: str, value: str, uid: str, tx: Transaction) -> bool:
        """Does another user than ``uid`` have this email or phone?"""

    async def sessions_of(self, project: str, uid: str) -> list[Session]:
        """The user's sessions, oldest first."""

    async def session(self, project: str, sid: str, tx: Transaction | None = None) -> Session | None: ...

    async def insert_session(self, tx: Transaction, project: str, s: Session) -> None: ...

    async def delete_session(self, tx: Transaction, project: str, sid: str) -> None: ...

    async def extend_session(self, tx: Transaction, project: str, s: Session) -> None:
        """Store ``s``'s new expiry (and ``updated_at``)."""

    async def add_token(self, tx: Transaction, project: str, token: TokenRecord) -> None: ...

    async def tokens_of(self, project: str, uid: str, tx: Transaction) -> list[TokenRecord]: ...

    async def delete_token(self, tx: Transaction, project: str, token_id: str) -> None: ...


class IndexRepository(Protocol):
    """Indexes of tables (store/indexes.py), and the database indexes that make them real."""

    async def list(self, project: str, db: str, table: str, tx: Transaction | None = None) -> list[Index]: ...

    async def insert(self, tx: Transaction, project: str, db: str, table: str, index: Index) -> None:
        """Record the index and build it over the table's rows (409 when the key is taken, 400
        when a unique index meets rows that repeat their values)."""

    async def delete(self, tx: Transaction, project: str, db: str, table: str, key: str) -> bool:
        """Whether there was such an index."""


class TableRepository(Protocol):
    """TablesDB databases, tables (with their columns and indexes) and rows (store/tablesdb.py).
    Databases and tables read outside a transaction may come from this node's copy in memory,
    which ``forget`` drops after a schema change."""

    @property
    def indexes(self) -> IndexRepository: ...

    def forget(self, project: str, db: str) -> None:
        """Drop this node's copy of the database's schema."""

    async def get_database(self, project: str, db: str) -> Database | None: ...

    async def list_databases(self, project: str, limit: int, offset: int) -> tuple[int, list[Database]]: ...

    async def insert_database(self, tx: Transaction, project: str, rec: Database) -> None:
        """Raises ``database_already_exists`` when the id is taken."""

    async def update_database(self, tx: Transaction, project: str, rec: Database) -> None: ...

    async def delete_database(self, tx: Transaction, project: str, db: str) -> None:
        """The database with its tables, columns, indexes and rows."""

    async def get_table(self, project: str, db: str, table: str) -> Table | None: ...

    async def lock_table(self, tx: Transaction, project: str, db: str, table: str) -> None:
        """Hold the table's row until ``tx`` ends (on PostgreSQL; SQLite's one writer does it
        already): schema changes of one table then happen one after another."""

    async def table_exists(self, project: str, db: str, table: str) -> bool:
        """Whether the table is there now, whatever this node keeps in memory."""

    async def list_tables(self, project: str, db: str, limit: int, offset: int) -> tuple[int, list[Table]]: ...

    async def insert_table(self, tx: Transaction, project: str, rec: Table) -> None:
        """The table with its columns; raises ``table_already_exists`` when the id is taken."""

    async def update_table(self, tx: Transaction, project: str, rec: Table) -> None:
        """Its name, permissions, flags and ``updated_at``."""

    async def delete_table(self, tx: Transaction, project: str, db: str, table: str) -> None: ...

    async def schema_in(self, tx: Transaction, project: str, db: str, table: str) -> list[Column] | None:
        """The table's columns as ``tx`` sees them, or None when the table is gone."""

    async def insert_column(self, tx: Transaction, project: str, db: str, table: str, col: Column) -> None:
        """Raises ``column_already_exists`` when the key is taken."""

    async def update_column(self, tx: Transaction, project: str, db: str, table: str, col: Column) -> None: ...

    async def delete_column(self, tx: Transaction, project: str, db: str, table: str, key: str) -> bool:
        """The column and the indexes over it; whether there was such a column."""

    async def get_row(self, project: str, db: str, table: str, row_id: str,
                      tx: Transaction | None = None) -> Row | None: ...

    async def insert_row(self, tx: Transaction, project: str, rec: Row, read_roles: list[str]) -> int:
        """Returns the new row's ``sequence``; raises ``row_already_exists`` when the id is
        taken, ``row_unique_constraint_violation`` when a unique index refuses the values."""

    @property
    def one_statement_inserts(self) -> bool:
        """Whether ``insert_row_logged`` writes (on PostgreSQL); otherwise never call it."""

    async def insert_row_logged(self, project: str, rec: Row, read_roles: list[str], columns: Sequence[Column],
                                event: Event, seq_key: str, origin: Origin | None) -> int | None:
        """The row and its event in one statement, committed on its own, if the table still has
        exactly ``columns`` (what ``rec`` was checked against); the event's payload gets the
        new ``sequence``, as text, under ``seq_key``. Returns it; None when the table or its
        columns changed (the caller then writes in a transaction). Raises as ``insert_row``."""

    async def update_row(self, tx: Transaction, project: str, rec: Row, read_roles: list[str]) -> None:
        """The row at ``rec.sequence``: its data, permissions and ``updated_at``."""

    async def delete_row(self, tx: Transaction, seq: int) -> None: ...

    async def list_rows(self, project: str, tbl: Table, plan: ListPlan, read_filter: list[str] | None,
                        search: bool = False, by_index: bool = False) -> tuple[int, list[Row]]:
        """A page of the table's rows, with the total the plan's filters match. ``read_filter``:
        only the rows one of these roles may read; ``search``: a ``search`` query may use the
        table's fulltext indexes; ``by_index``: an index answers a filter (the page is sorted
        from what it finds)."""


class StorageRepository(Protocol):
    """Buckets and file records (store/storage.py); the bytes are the storage service's."""

    async def bucket(self, project: str, bid: str, tx: Transaction | None = None) -> Bucket | None: ...

    async def buckets(self, project: str, limit: int, offset: int) -> tuple[int, list[Bucket]]:
        """A page of the project's buckets, oldest first."""

    async def insert_bucket(self, tx: Transaction, project: str, b: Bucket) -> None:
        """A new bucket (storage_bucket_already_exists if its id is taken)."""

    async def save_bucket(self, tx: Transaction, project: str, b: Bucket) -> None:
        """An existing bucket's new settings."""

    async def delete_bucket(self, tx: Transaction, project: str, bid: str) -> list[str]:
        """The bucket with its file records; returns their blobs, for the caller to remove."""

    async def file(self, project: str, bid: str, fid: str, tx: Transaction | None = None) -> File | None: ...

    async def insert_file(self, tx: Transaction, project: str, f: File, read_roles: list[str]) -> int:
        """Returns the new file's ``seq``; ``read_roles`` are who may read it (what lists filter on)."""

    async def update_file(self, tx: Transaction, f: File, read_roles: list[str]) -> None: ...

    async def add_chunk(self, tx: Transaction, file_seq: int, chunk: int) -> int:
        """Record a received chunk (idempotent); returns how many distinct chunks are in."""

    async def delete_file(self, tx: Transaction, seq: int) -> None: ...

    async def expired_uploads(self, now: float) -> list[File]:
        """Every project's unfinished uploads whose expiry is before ``now``."""

    async def list_files(self, project: str, bid: str, plan: ListPlan, read_filter: list[str] | None,
                         search: str | None) -> tuple[int, list[File]]:
        """The bucket's complete files matching the plan (and ``search`` in their name), paged; with
        ``read_filter``, only those one of these roles may read."""


class FunctionRepository(Protocol):
    """Functions and their executions (store/functions.py). Writes take the caller's transaction."""

    async def function(self, project: str, fid: str, tx: Transaction | None = None) -> Function | None: ...

    async def functions(self, project: str, limit: int, offset: int) -> tuple[int, list[Function]]:
        """A page of the project's functions, oldest first."""

    async def event_functions(self, after: tuple[str, str] | None, limit: int) -> list[FunctionTrigger]:
        """Up to ``limit`` of every project's enabled functions with event patterns, in (project,
        id) order, after the (project, id) ``after``: a page of what the event triggers keep."""

    async def insert_function(self, tx: Transaction, project: str, f: Function) -> None:
        """A new function (function_already_exists if its id is taken)."""

    async def save_function(self, tx: Transaction, project: str, f: Function) -> None:
        """An existing function's new settings."""

    async def delete_function(self, tx: Transaction, project: str, fid: str) -> None:
        """The function with its executions."""

    async def execution(self, project: str, eid: str, tx: Transaction | None = None) -> Execution | None: ...

    async def save_execution(self, tx: Transaction, project: str, e: Execution, read_roles: list[str]) -> None:
        """Insert or replace; ``read_roles`` are who may read it (what a user's list filters on)."""

    async def delete_execution(self, tx: Transaction, project: str, eid: str) -> None: ...

    async def executions(self, project: str, fid: str, read_filter: list[str] | None, limit: int,
                         offset: int) -> tuple[int, list[Execution]]:
        """A page of the function's executions, newest first; with ``read_filter``, only those one
        of these roles may read."""

    async def unfinished(self) -> list[tuple[str, Execution]]:
        """(project, execution) of every execution scheduled, waiting or processing."""


class TransactionRepository(Protocol):
    """TablesDB transactions and their staged operations (store/transactions.py)."""

    async def get(self, project: str, tid: str, tx: Transaction | None = None) -> TransactionRecord | None: ...

    async def page(self, project: str, owner: str | None, limit: int,
                   offset: int) -> tuple[int, list[TransactionRecord]]: ...

    async def insert(self, tx: Transaction, project: str, t: TransactionRecord) -> None: ...

    async def save(self, tx: Transaction, project: str, t: TransactionRecord) -> None: ...

    async def delete(self, tx: Transaction, project: str, tid: str) -> None:
        """The transaction and its staged operations."""

    async def pending_of(self, tx: Transaction, project: str, owner: str | None) -> int:
        """How many pending transactions ``owner`` has (None: those API keys made)."""

    async def stage_within(self, tx: Transaction, project: str, tid: str, ops: list[StagedOperation],
                           max_bytes: int) -> int | None:
        """Append ``ops`` after those already staged if the transaction's staged bytes stay
        within ``max_bytes``: the new total, or None (nothing staged)."""

    async def operations_after(self, tx: Transaction, project: str, tid: str, after: int,
                               limit: int) -> list[tuple[int, StagedOperation]]:
        """The next ``limit`` staged operations after position ``after``, with their positions."""

    async def drop_operations(self, tx: Transaction, project: str, tid: str) -> None: ...

    async def past_expiry(self, now: float, limit: int = 500) -> list[tuple[str, str]]:
        """(project, id) of transactions past their expiry, whatever their status."""
