"""Typed records the stores hand to the use cases (no I/O, no policy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored. ``password_hash`` is verified with ``hash`` (Appwrite's algorithm name)
    and ``hash_options``; None means the user has no password (anonymous, or cleared)."""

    id: str
    email: str | None
    name: str
    registration: str
    created_at: str
    updated_at: str
    accessed_at: str
    password_hash: str | None = None
    hash: str = "argon2"
    hash_options: dict[str, Any] = field(default_factory=dict)
    password_update: str = ""
    status: bool = True
    labels: list[str] = field(default_factory=list)
    prefs: dict[str, Any] = field(default_factory=dict)
    email_verification: bool = False
    phone: str | None = None
    phone_verification: bool = False


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A one-time secret a server made for a user, exchanged for a session before ``expire_ts``."""

    id: str
    user_id: str
    secret_hash: str
    expire: str
    expire_ts: float
    created_at: str


class DatabaseType(StrEnum):
    """What made a database: the TablesDB API, or the legacy Databases (documents) API, whose
    row events carry only the ``databases.*`` names."""

    TABLESDB = "tablesdb"
    LEGACY = "legacy"


@dataclass(frozen=True, slots=True)
class Database:
    id: str
    name: str
    enabled: bool
    type: DatabaseType
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Column:
    """A table's column. ``kind`` is what its values are checked as (one of
    ``core.schema.COLUMN_TYPES``); Appwrite's ``type`` and ``format`` derive from it (an email,
    enum, url or ip column is a string with that format). The type's limits are None where the
    type has none (``size`` for strings, ``min``/``max`` for numbers, ``elements`` for enums)."""

    key: str
    kind: str
    required: bool
    array: bool
    default: Any  # a JSON value of the column's type, or None
    created_at: str
    updated_at: str
    size: int | None = None
    encrypt: bool | None = None
    min: int | float | None = None
    max: int | float | None = None
    elements: tuple[str, ...] | None = None


class IndexType(StrEnum):
    KEY = "key"
    UNIQUE = "unique"
    FULLTEXT = "fulltext"


@dataclass(frozen=True, slots=True)
class Index:
    """An index over a table's columns, each with its order (ASC or DESC)."""

    key: str
    type: IndexType
    columns: tuple[str, ...]
    orders: tuple[str, ...]
    lengths: tuple[int, ...]
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Table:
    """A table with its schema. ``database_type`` is its database's (which names its row
    events); ``columns`` and ``indexes`` are in the order they were made."""

    id: str
    database_id: str
    database_type: DatabaseType
    name: str
    enabled: bool
    row_security: bool
    permissions: list[str]
    created_at: str
    updated_at: str
    columns: tuple[Column, ...] = ()
    indexes: tuple[Index, ...] = ()


@dataclass(frozen=True, slots=True)
class Row:
    """A row: ``data`` is the user's own fields (JSON); ``sequence`` is its position in the
    store (0 until it is written)."""

    id: str
    table_id: str
    database_id: str
    data: dict[str, Any]
    permissions: list[str]
    created_at: str
    updated_at: str
    sequence: int = 0


class TransactionStatus(StrEnum):
    PENDING = "pending"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"  # its commit failed: nothing of it was applied, its operations are gone


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A TablesDB transaction: ``pending`` while operations are staged, then ``committed``,
    ``rolled_back`` or ``failed``; past ``expires_ts`` it can no longer be used."""

    id: str
    owner: str | None  # the user who made it (None: an API key)
    status: TransactionStatus
    operations: int
    expires_at: str
    expires_ts: float
    created_at: str
    updated_at: str


class OperationAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"
    INCREMENT = "increment"
    DECREMENT = "decrement"


@dataclass(frozen=True, slots=True)
class StagedOperation:
    """A row write staged in a transaction, applied when it commits. ``data`` is the row's
    fields, with ``$permissions`` when it sets them (for an increment: ``column``, ``value``
    and the bound)."""

    action: OperationAction
    database_id: str
    table_id: str
    row_id: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Team:
    """A team; its members are ``Membership`` records."""

    id: str
    name: str
    prefs: dict[str, Any]
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's place in a team: ``confirm`` once accepted (or added by an API key), with the
    team ``roles`` it grants; until then ``secret_hash`` is the invitation's secret, hashed."""

    id: str
    team_id: str
    user_id: str
    roles: list[str]
    invited: str
    joined: str
    confirm: bool
    secret_hash: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Session:
    """A user's signed-in session; only the SHA-256 of its secret is kept."""

    id: str
    user_id: str
    secret_hash: str
    provider: str  # email, anonymous, token, server
    ip: str
    user_agent: str
    expire: str
    expire_ts: float
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Presence:
    """A user's presence. One per user; ``connection`` names the realtime connection that set
    it (empty over REST), which keeps it alive until ``expires_ts`` (0: no expiry)."""

    id: str
    user_id: str
    status: str
    source: str  # realtime or rest
    metadata: dict[str, Any]
    permissions: list[str]
    expires_at: str
    expires_ts: float
    connection: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A server API key of a project; only the SHA-256 of its secret is kept."""

    project: str
    id: str
    name: str
    secret_hash: str
    scopes: list[str]
    created_at: str


@dataclass(frozen=True, slots=True)
class Bucket:
    """A storage bucket: who may create and read its files (``permissions``, and each file's own
    when ``file_security``) and what it accepts."""

    id: str
    name: str
    permissions: list[str]
    file_security: bool
    enabled: bool
    maximum_file_size: int  # bytes
    allowed_file_extensions: list[str]  # lower case, no dot; empty: any
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class File:
    """A file of a bucket. Its bytes are the server-named ``blob``; until ``complete`` (every
    chunk received) it is an upload in progress, invisible to readers and removed past
    ``expires`` (a Unix time)."""

    seq: int  # the store's key (0 until inserted)
    bucket_id: str
    id: str
    name: str
    permissions: list[str]
    mime_type: str
    size: int
    signature: str  # MD5 of the bytes, once complete
    chunks_total: int
    chunks_uploaded: int
    blob: str
    complete: bool
    expires: float
    owner: str | None  # the uploading user's id, "key" for an API key, None for a guest
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Function:
    """A function: a shell command the server runs, by HTTP for the ``execute`` roles and on
    every event matching one of ``events``."""

    id: str
    name: str
    command: str
    events: list[str]  # event patterns, e.g. tablesdb.*.tables.T.rows.*.create
    timeout: float  # seconds (kept as given: an int stays an int in the JSON)
    execute: list[str]  # roles that may run it over HTTP
    enabled: bool
    cwd: str  # the directory it runs in ("": the server's)
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class FunctionTrigger:
    """What the event triggers keep of an enabled function that events start: which function,
    on which event patterns (the rest is read when one of them matches)."""

    project: str
    function_id: str
    events: list[str]


class ExecutionStatus(StrEnum):
    """An execution's life: ``scheduled`` or ``waiting``, then ``processing``, then ``completed``
    or ``failed``."""

    SCHEDULED = "scheduled"
    WAITING = "waiting"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def running(self) -> bool:
        """Waiting for its turn or running now (a scheduled one is neither yet)."""
        return self in (ExecutionStatus.WAITING, ExecutionStatus.PROCESSING)


class ExecutionTrigger(StrEnum):
    """What started an execution: an HTTP request, one at a scheduled time, or an event."""

    HTTP = "http"
    SCHEDULE = "schedule"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of a function: the request it got, then (once finished) the response it gave."""

    id: str
    function_id: str
    user_id: str | None  # the user who asked for it (None: an API key, an event or a guest)
    permissions: list[str]  # who may read it: the user who asked for it, if any
    trigger: ExecutionTrigger
    status: ExecutionStatus
    request_method: str
    request_path: str
    request_headers: list[tuple[str, str]]
    created_at: str
    updated_at: str
    scheduled_at: str | None = None
    response_status_code: int = 0
    response_body: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    logs: str = ""  # the command's stderr
    errors: str = ""  # what went wrong, if it failed
    duration: float = 0.0  # seconds


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a function's command ended: its exit status (-9 when killed at the timeout), its
    output, and ``error``, what went wrong in words (empty when it exited 0)."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool
    duration: float  # seconds
    error: str = ""
