"""The Appwrite Realtime wire protocol: message types, error and close codes, JSON codec.

Shared by the server (core.session, server.realtime) and the client (client.realtime).
rtcli's extensions are marked as such; the Appwrite SDKs ignore unknown fields.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import orjson

# Message types, client -> server.
PING = "ping"
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
AUTHENTICATION = "authentication"
PRESENCE = "presence"
PUBLISH = "publish"  # rtcli: a message to a topic
CLIENT_TYPES = frozenset({PING, SUBSCRIBE, UNSUBSCRIBE, AUTHENTICATION, PRESENCE, PUBLISH})

# Message types, server -> client.
CONNECTED = "connected"
EVENT = "event"
ERROR = "error"
PONG = "pong"
RESPONSE = "response"

# Error codes carried in error frames; 1008 is also sent as the close code (fatal).
CODE_INVALID_MESSAGE = 1003  # bad message: the socket stays open
CODE_POLICY_VIOLATION = 1008  # fatal: error frame, then close 1008 (the SDK stops reconnecting)
CODE_MESSAGE_TOO_BIG = 1009  # an incoming message over the size limit: error frame, then close 1009
CODE_TRY_AGAIN = 1013  # rate limited: the socket stays open
CODE_UNAUTHORIZED = 401

# rtcli extension: close code for a client whose send queue overflowed. Not 1008, so the
# Appwrite SDK reconnects; rtcli's client resumes from its last cursor.
CLOSE_SLOW_CONSUMER = 4008


class Policy(StrEnum):
    """rtcli extension: what the server does when a subscriber cannot keep up (a subscribe
    item's ``policy``), in order of precedence when a frame's subscriptions differ."""

    CLOSE = "close"  # the default: close with 4008; the client resumes from its cursor
    DROP = "drop"  # skip events, then send a gap marker
    LATEST = "latest"  # keep only the newest queued event per resource

CLOSE_GOING_AWAY = 1001

# Appwrite's largest incoming message (Swoole setPackageMaxLength(64000)).
MAX_INCOMING_FRAME = 64_000


# Client JSON that rtcli keeps and sends on (row data, queries) nests at most this deep: orjson
# encodes at most 255 levels, and an event frame wraps a row two levels deeper.
MAX_JSON_DEPTH = 64


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """What makes decoded JSON unfit to store and encode again, or None: nesting deeper than
    ``max_depth``, an integer outside the signed 64-bit range, a number that is not finite, a
    string (or key) with a NUL character (PostgreSQL refuses it) or an unpaired surrogate (not
    UTF-8). Iterative, so that a deep value cannot exhaust the stack."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > max_depth:
                return f"nesting deeper than {max_depth} levels"
            stack.extend((x, depth + 1) for x in ((*v, *v.values()) if isinstance(v, dict) else v))
        elif isinstance(v, str):
            if "\x00" in v:
                return "a NUL character in a string"
            if not v.isascii():
                try:
                    v.encode()
                except UnicodeEncodeError:
                    return "an unpaired surrogate in a string"
        elif isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63:
            return "an integer outside the 64-bit range"
        elif isinstance(v, float) and not math.isfinite(v):
            return "a number that is not finite"
    return None


def dumps(obj: Any) -> str:
    """Compact JSON text, as the wire wants it."""
    return orjson.dumps(obj).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def error_frame(code: int, message: str) -> dict[str, Any]:
    return {"type": ERROR, "data": {"code": code, "message": message}}


def response_frame(to: str, **data: Any) -> dict[str, Any]:
    return {"type": RESPONSE, "data": {"to": to, "success": True, **data}}
