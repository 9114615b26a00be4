"""What a request to run a function may carry (``POST /v1/functions/{id}/executions``), and its bounds.

Every execution waiting for a slot holds its body in memory (an asynchronous or synchronous one
until it runs, a scheduled one until its date), and keeps its path and headers in the database for
as long as it is kept. So each part is bounded:

- ``body``: at most ``MAX_BODY`` bytes (UTF-8). Appwrite takes up to 10 MB and passes it to a
  container over HTTP; here it is held in this process by each of up to ``--max-execution-queue``
  waiting executions (and 100 scheduled ones per function) before it goes to the command's stdin,
  so the bound is that of the command's output (the runner keeps 1 MiB of stdout), and a full
  queue of them costs at most about ``--max-execution-queue`` MiB.
- ``path``: text starting with ``/`` of at most ``MAX_PATH`` characters (Appwrite's bound) with no
  control characters: it is passed in the command's environment, where a NUL cannot go.
- ``headers``: an object of at most ``MAX_HEADERS`` names (Appwrite's bound) whose names and values
  together take at most ``MAX_HEADERS_SIZE`` bytes; names are letters, digits and inner hyphens
  (Appwrite's rule), values strings with no NUL, CR or LF (they reach the command as JSON in
  ``RTCLI_HEADERS`` and may end up in an HTTP request or a log line).
- ``scheduledAt``: an ISO 8601 date in the future, at most ``MAX_SCHEDULE_AHEAD`` ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rtcli.errors import invalid

MAX_BODY = 1024 * 1024  # bytes of an execution's body
MAX_PATH = 2048  # characters
MAX_HEADERS = 100
MAX_HEADERS_SIZE = 16 * 1024  # bytes of the names and values together
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
MAX_SCHEDULE_AHEAD = 365 * 86400.0  # seconds
SCHEDULE_CLOCK_SKEW = 60.0  # seconds a client's "now" may lag behind the server's

_HEADER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BREAKS = re.compile(r"[\x00\r\n]")


@dataclass(frozen=True)
class ExecutionRequest:
    """A request to run a function, checked: what the command gets, and when."""

    stdin: bytes
    method: str
    path: str
    headers: list[tuple[str, str]]
    asynchronous: bool
    due: float | None  # the timestamp of ``scheduledAt``; None: now


def read_request(body: dict[str, Any], now: float) -> ExecutionRequest:
    """The request ``body`` asks for, or a 400 naming the parameter and its bound."""
    asynchronous = bool(body.get("async", False))
    scheduled = body.get("scheduledAt")
    if scheduled is not None and not asynchronous:
        raise invalid("Scheduled executions must run asynchronously: pass async true with scheduledAt.")
    method = body.get("method", "POST")
    if method not in METHODS:
        raise invalid(f"Invalid `method` param: one of {', '.join(METHODS)}.")
    return ExecutionRequest(stdin=_body(body.get("body", "")), method=method, path=_path(body.get("path", "/")),
                            headers=_headers(body.get("headers") or {}), asynchronous=asynchronous,
                            due=None if scheduled is None else scheduled_date(scheduled, now))


def _body(value: object) -> bytes:
    if not isinstance(value, str):
        raise invalid("Invalid `body` param: Value must be a string.")
    too_large = invalid(f"Invalid `body` param: at most {MAX_BODY} bytes (UTF-8).")
    if len(value) > MAX_BODY:  # a character takes at least a byte: refused without encoding it
        raise too_large
    stdin = value.encode()
    if len(stdin) > MAX_BODY:
        raise too_large
    return stdin


def _path(value: object) -> str:
    if (not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_PATH
            or _CONTROL.search(value)):
        raise invalid(f"Invalid `path` param: a path starting with / of at most {MAX_PATH} characters, "
                      "without control characters.")
    return value


def _headers(value: object) -> list[tuple[str, str]]:
    rule = (f"an object of at most {MAX_HEADERS} headers, {MAX_HEADERS_SIZE} bytes in all (names and values); "
            "names of letters, digits and inner hyphens, values strings without NUL, CR or LF.")
    if not isinstance(value, dict) or len(value) > MAX_HEADERS:
        raise invalid(f"Invalid `headers` param: {rule}")
    size = 0
    for name, text in value.items():
        # The sizes first (in characters, then in bytes): a huge name or value is refused unread.
        if not isinstance(text, str) or len(name) + len(text) > MAX_HEADERS_SIZE - size:
            raise invalid(f"Invalid `headers` param: {rule}")
        size += len(name.encode()) + len(text.encode())
        if size > MAX_HEADERS_SIZE or not _HEADER_NAME.fullmatch(name) or _BREAKS.search(text):
            raise invalid(f"Invalid `headers` param: {rule}")
    return list(value.items())


def scheduled_date(value: object, now: float) -> float:
    """The time ``scheduledAt`` names, if the API accepts it; otherwise a 400 saying what it accepts."""
    when = parse_date(value) if isinstance(value, str) else None
    if when is None or not now - SCHEDULE_CLOCK_SKEW <= when <= now + MAX_SCHEDULE_AHEAD:
        raise invalid(f"Invalid `scheduledAt` param: an ISO 8601 date in the future, at most "
                      f"{MAX_SCHEDULE_AHEAD / 86400:.0f} days ahead (such as 2030-01-01T12:00:00Z).")
    return when


def parse_date(value: str) -> float | None:
    """An ISO 8601 date as a timestamp (UTC when it names no offset), or None."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    # An aware date's timestamp is a difference of dates: no overflow near year 1 or 9999.
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
