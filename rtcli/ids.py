"""Identifier and timestamp helpers shared by server and client (leaf module)."""

from __future__ import annotations

import math
import re
import secrets
import time

_CUSTOM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")


def unique() -> str:
    """Appwrite's ID.unique(): seconds (8 hex) + milliseconds (5 hex) + 7 random hex = 20 chars."""
    now = time.time()
    sec = int(now)
    msec = int((now - sec) * 1000)
    return f"{sec:08x}{msec:05x}{secrets.token_hex(4)[:7]}"


def is_custom_id(value: object) -> bool:
    """Appwrite's CustomId rule: [a-zA-Z0-9._-], no leading special character, at most 36 chars."""
    return isinstance(value, str) and bool(_CUSTOM_ID.match(value))


def resolve_id(value: object) -> str | None:
    """Turn a requested id into a real one: 'unique()' mints one; invalid ids give None."""
    if value == "unique()":
        return unique()
    return value if isinstance(value, str) and is_custom_id(value) else None


def format_datetime(ts: float | None = None) -> str:
    """Appwrite's timestamp format (PHP ``Y-m-d\\TH:i:s.vP``): 2026-08-21T13:42:57.123+00:00."""
    # datetime.strftime costs ~3 us, twice per row write; the date and time up to the second
    # change once a second, so they are kept. Microseconds round as datetime.fromtimestamp does.
    frac, sec = math.modf(time.time() if ts is None else ts)
    us = round(frac * 1e6)
    if us >= 1_000_000:
        sec, us = sec + 1, us - 1_000_000
    elif us < 0:
        sec, us = sec - 1, us + 1_000_000
    global _second, _prefix
    if sec != _second:
        _prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        _second = sec
    return f"{_prefix}{us // 1000:03d}+00:00"


_second: float | None = None
_prefix = ""
