"""Replaying recorded events as writes against an endpoint (``rtcli replay``).

A recording is what ``rtcli subscribe --json`` prints: one event ``data`` object per line
(``events``, ``channels``, ``timestamp``, ``payload``, ``cursor``…). Each event becomes a
``Step``, decided from the event alone (``plan``):

- a row event (``tablesdb.D.tables.T.rows.R.<action>``, or the legacy ``databases…documents``
  form) re-creates the write from the payload, which holds the whole row after the change:
  ``create`` -> ``POST …/rows`` with the same ``$id``, data and ``$permissions``; ``update`` ->
  ``PATCH`` with that data and permissions (an ``upsert`` when the row is missing on the target,
  since the payload is the whole row); ``upsert`` -> ``PUT``; ``delete`` -> ``DELETE`` (a row
  already absent is skipped). Data is every payload attribute not starting with ``$``;
- an execution's ``create`` event from an HTTP call re-runs the function (sync) with the
  recorded method, path, headers and request body, but only when the payload carries the body
  (``requestBody``): Appwrite's execution model, and rtcli's, do not, so such executions are
  skipped rather than run with a made-up body. Executions triggered by an event or a schedule
  are skipped: replaying the write re-triggers an event function on the target by itself;
- everything else is skipped with a reason: file events (the bytes are not in a recording),
  account, team, membership and presence events.

Events are taken in file order; an event whose ``cursor`` was already seen is ignored, so
concatenated or overlapping recordings replay each event once. Nothing here prints: ``Replayer``
reports each step's outcome to a callback and returns a ``Summary``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rtcli.client.api import ApiClient, TablesDB, _seg
from rtcli.errors import AppwriteError, RtcliError

ACTIONS = ("create", "update", "upsert", "delete")
SKIP_REASONS = {
    "buckets": "file events: the file's bytes are not in a recording",
    "users": "account events are not replayed",
    "teams": "team and membership events are not replayed",
    "memberships": "team and membership events are not replayed",
    "presences": "presence events are not replayed",
}


class RecordingError(RtcliError):
    """A line of the recording is not an event (not JSON, or not an object with ``events``)."""


@dataclass(frozen=True)
class Step:
    """What to do for one event. ``action`` is create|update|upsert|delete (rows), execute, or skip."""

    action: str
    event: dict[str, Any]
    database: str | None = None
    table: str | None = None
    row: str | None = None
    data: dict[str, Any] | None = None
    permissions: list[str] | None = None
    function: str | None = None
    execution: dict[str, Any] | None = None  # the POST …/executions body
    reason: str | None = None  # why it is skipped

    @property
    def timestamp(self) -> float | None:
        """The event's time as a unix timestamp (None when absent or unparseable)."""
        raw = self.event.get("timestamp")
        try:
            return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp() if raw else None
        except ValueError:
            return None

    @property
    def target(self) -> str:
        """What the step acts on: ``main/posts/r1``, ``function greet``, or the skipped event's name."""
        if self.action == "execute":
            return f"function {self.function}"
        if self.action == "skip":
            return _primary(self.event) or "?"
        return f"{self.database}/{self.table}/{self.row}"

    def describe(self) -> str:
        """``create main/posts/r1``, ``execute function greet``, ``skip <event> (<reason>)``."""
        if self.action == "skip":
            return f"skip {self.target} ({self.reason})"
        return f"{self.action} {self.target}"


def read_recording(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The events of a recording, in order, without blank lines and repeated cursors."""
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as e:
            raise RecordingError(f"line {number} is not JSON ({e}); expected `rtcli subscribe --json` output") from None
        if not isinstance(event, dict) or not isinstance(event.get("events"), list):
            raise RecordingError(f"line {number} is not an event (an object with `events`); "
                                 "expected `rtcli subscribe --json` output")
        cursor = event.get("cursor")
        if isinstance(cursor, str):
            if cursor in seen:
                continue
            seen.add(cursor)
        yield event


def _primary(event: dict[str, Any]) -> str | None:
    """The event's most specific name: the first without a ``*``."""
    for name in event.get("events") or ():
        if isinstance(name, str) and "*" not in name:
            return name
    return None


def plan(event: dict[str, Any]) -> Step:
    """The step that re-creates ``event`` (see the module docstring)."""
    name = _primary(event)
    if name is None:
        return Step("skip", event, reason="no event name")
    parts = name.split(".")
    payload = event.get("payload") if isinstance(event.get("payload"), dict) else {}
    action = parts[-1]
    if parts[0] in ("tablesdb", "databases") and ("rows" in parts or "documents" in parts) and action in ACTIONS:
        db = payload.get("$databaseId")
        table = payload.get("$tableId") or payload.get("$collectionId")
        row = payload.get("$id")
        if not all(isinstance(x, str) and x for x in (db, table, row)):
            return Step("skip", event, reason="the row payload has no $databaseId/$tableId/$id")
        data = {k: v for k, v in payload.items() if not k.startswith("$")}
        perms = payload.get("$permissions")
        return Step(action, event, database=db, table=table, row=row, data=data,
                    permissions=list(perms) if isinstance(perms, list) else None)
    if parts[0] == "functions" and "executions" in parts:
        return _execution_step(event, action, payload)
    return Step("skip", event, reason=SKIP_REASONS.get(parts[0], f"{parts[0]} events are not replayed"))


def _execution_step(event: dict[str, Any], action: str, payload: dict[str, Any]) -> Step:
    if action != "create":
        return Step("skip", event, reason="execution status changes are not replayed")
    if payload.get("trigger") == "event":
        return Step("skip", event, reason="event-triggered execution: the replayed write triggers it again")
    if payload.get("trigger") not in (None, "http"):
        return Step("skip", event, reason=f"{payload.get('trigger')}-triggered executions are not replayed")
    function = payload.get("functionId") or payload.get("resourceId")
    if not isinstance(function, str) or not function:
        return Step("skip", event, reason="the execution payload names no function")
    if not isinstance(payload.get("requestBody"), str):
        return Step("skip", event, reason="the execution's request body is not in the event")
    headers = {h["name"]: h["value"] for h in payload.get("requestHeaders") or []
               if isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str)}
    body = {"body": payload["requestBody"], "async": False, "method": payload.get("requestMethod") or "POST",
            "path": payload.get("requestPath") or "/", "headers": headers}
    return Step("execute", event, function=function, execution=body)


# --- running --------------------------------------------------------------------------------------


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    upserted: int = 0
    deleted: int = 0
    executed: int = 0
    skipped: int = 0
    failed: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "upserted": self.upserted,
                "deleted": self.deleted, "executed": self.executed, "skipped": self.skipped,
                "failed": self.failed, "skipReasons": dict(self.skip_reasons), "errors": list(self.errors)}


# outcome of one step: (counter name, detail) e.g. ("created", ""), ("skipped", "row already absent")
Outcome = tuple[str, str]
Report = Callable[[int, int, Step, Outcome], None]


def tables_of(steps: Sequence[Step]) -> list[tuple[str, str]]:
    """The (database, table) pairs the row steps write to, in first-use order."""
    return list(dict.fromkeys((s.database, s.table) for s in steps if s.database and s.table))


def missing_tables(db: TablesDB, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The pairs that do not exist on the target, each with what is missing (database or table)."""
    missing: list[tuple[str, str, str]] = []
    for database, table in pairs:
        try:
            db.get_table(database, table)
        except AppwriteError as e:
            if e.type == "database_not_found":
                missing.append((database, table, "database"))
            elif e.type in ("table_not_found", "collection_not_found"):
                missing.append((database, table, "table"))
            else:
                raise
    return missing


def create_missing(db: TablesDB, missing: Iterable[tuple[str, str, str]], permissions: Sequence[str] = ()) -> list[str]:
    """Create each missing database and table: schemaless, row security on, with ``permissions``
    as the table's. Returns what was created, as ``database D`` / ``table D/T``."""
    created: list[str] = []
    made_databases: set[str] = set()
    for database, table, what in missing:
        if what == "database" and database not in made_databases:
            db.create(database, database)
            made_databases.add(database)
            created.append(f"database {database}")
        db.create_table(database, table, table, permissions=list(permissions), row_security=True)
        created.append(f"table {database}/{table}")
    return created


class Replayer:
    """Carries out steps against one endpoint with one ApiClient (an API key, for the permissions)."""

    def __init__(self, client: ApiClient, *, speed: float = 0.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.db = TablesDB(client)
        self.speed = speed
        self.sleep = sleep
        self.clock = clock

    def run(self, steps: Sequence[Step], report: Report | None = None) -> Summary:
        """Replay ``steps`` in order. With ``speed`` > 0, step i waits until ``(t_i - t_0) / speed``
        seconds after the start (t = the events' timestamps). API errors count as failures and
        the replay goes on; a lost connection ends it (raised)."""
        summary = Summary()
        started, first = self.clock(), None
        for index, step in enumerate(steps, 1):
            if self.speed > 0 and step.action != "skip" and step.timestamp is not None:
                first = step.timestamp if first is None else first
                wait = started + (step.timestamp - first) / self.speed - self.clock()
                if wait > 0:
                    self.sleep(wait)
            try:
                outcome = self._one(step)
            except AppwriteError as e:
                outcome = ("failed", f"{e.message} ({e.type}, {e.code})")
            counter, detail = outcome
            setattr(summary, counter, getattr(summary, counter) + 1)
            if counter == "skipped":
                summary.skip_reasons[detail or step.reason or "skipped"] += 1
            elif counter == "failed":
                summary.errors.append(f"{step.describe()}: {detail}")
            if report is not None:
                report(index, len(steps), step, outcome)
        return summary

    def _one(self, step: Step) -> Outcome:
        a = step.action
        if a == "skip":
            return "skipped", step.reason or ""
        if a == "execute":
            result = self.client.call("POST", f"/functions/{_seg(step.function or '')}/executions",
                                      body=step.execution)
            return "executed", f"status {result.get('status')}" if isinstance(result, dict) else ""
        d, t, r = step.database or "", step.table or "", step.row or ""
        if a == "create":
            self.db.create_row(d, t, r, step.data or {}, step.permissions)
            return "created", ""
        if a == "upsert":
            self.db.upsert_row(d, t, r, step.data, step.permissions)
            return "upserted", ""
        if a == "update":
            try:
                self.db.update_row(d, t, r, step.data, step.permissions)
                return "updated", ""
            except AppwriteError as e:
                if e.type not in ("row_not_found", "document_not_found"):
                    raise
            # The payload is the whole row: put it there as it was after the update.
            self.db.upsert_row(d, t, r, step.data, step.permissions)
            return "upserted", "the row was missing"
        try:
            self.db.delete_row(d, t, r)
        except AppwriteError as e:
            if e.type in ("row_not_found", "document_not_found"):
                return "skipped", "row already absent"
            raise
        return "deleted", ""
