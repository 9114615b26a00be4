"""Channels: which channels an event is published on, and how subscribed channels are converted.

Matching between a subscription and an event is by exact channel string (Appwrite has no
wildcards); the event carries its full channel set, including the ``.<action>`` siblings.
"""

from __future__ import annotations

# Base channels whose last or second-to-last segment is one of these get a '.<action>' sibling.
_SUFFIXABLE = frozenset(
    {"documents", "rows", "files", "executions", "functions", "account", "teams", "memberships", "presences"}
)


def with_action(base: list[str], action: str | None) -> list[str]:
    """Append the '.<action>' sibling of each suffixable base channel (Appwrite's fromPayload)."""
    if not action:
        return list(base)
    out = list(base)
    for ch in base:
        parts = ch.split(".")
        if parts[-1] in _SUFFIXABLE or (len(parts) >= 2 and parts[-2] in _SUFFIXABLE):
            out.append(f"{ch}.{action}")
    return out


def row_channels(database_id: str, table_id: str, row_id: str, action: str | None) -> list[str]:
    """The 16 channels of a row event (8 base channels and their '.<action>' siblings)."""
    d, t, r = database_id, table_id, row_id
    base = [
        "documents",
        f"databases.{d}.collections.{t}.documents",
        f"databases.{d}.collections.{t}.documents.{r}",
        "rows",
        f"databases.{d}.tables.{t}.rows",
        f"databases.{d}.tables.{t}.rows.{r}",
        f"tablesdb.{d}.tables.{t}.rows",
        f"tablesdb.{d}.tables.{t}.rows.{r}",
    ]
    return with_action(base, action)


_ACCOUNT_ACTIONS = ("create", "update", "upsert", "delete")


def convert_subscribed(channels: list[str], user_id: str | None) -> list[str]:
    """Appwrite's convertChannels, applied when a subscription is made.

    ``account`` gains ``account.<uid>`` for a signed-in user; ``account.<action>`` becomes
    ``account.<uid>.<action>``; any other ``account.<x>`` is dropped. Every
    other string is kept as written, duplicates removed, order kept.
    """
    out: dict[str, None] = {}
    for ch in channels:
        if ch == "account":
            out["account"] = None
            if user_id:
                out[f"account.{user_id}"] = None
        elif ch.startswith("account."):
            rest = ch[len("account."):]
            if rest in _ACCOUNT_ACTIONS:
                out[f"account.{user_id}.{rest}" if user_id else ch] = None
            # any other account.<x>, even the user's own id as written: dropped (as Appwrite)
        else:
            out[ch] = None
    return list(out)


# --- channel patterns (rtcli extension) ------------------------------------------------------
# A subscribed channel may use "*" for exactly one segment and ">" (last) for one or more
# trailing segments: "tablesdb.*.tables.messages.rows", "buckets.>". Appwrite channel names never
# contain these segments, so plain channels behave exactly as before.


def is_pattern(channel: str) -> bool:
    parts = channel.split(".")
    return "*" in parts or ">" in parts


def pattern_match(pattern: str, channel: str) -> bool:
    p, c = pattern.split("."), channel.split(".")
    for i, seg in enumerate(p):
        if seg == ">" and i == len(p) - 1:
            return len(c) > i
        if i >= len(c) or (seg != "*" and seg != c[i]):
            return False
    return len(p) == len(c)


def valid_pattern(channel: str) -> bool:
    """'>' may only end a pattern; empty segments are not allowed."""
    parts = channel.split(".")
    return all(parts) and ">" not in parts[:-1]
