"""The grammar of the channels a server publishes on, for clients to check what they subscribe to.

A subscription to a channel nothing is published on is accepted (Appwrite does the same) and
then shows nothing, forever: ``tablesdb.main.table.messages.rows`` (table for tables) looks
right and is silent. ``check`` says whether a channel, or an rtcli pattern (``*`` for one
segment, ``>`` for the trailing ones), can match any published channel, and if not, which one
was probably meant. Pure; shared by the client and the server's tests.
"""

from __future__ import annotations

import difflib

ID = "{id}"
ACTION = "{action}"
ACTIONS = ("create", "update", "upsert", "delete")

# Every channel shape an event is published on; {id} is any one segment.
_BASE = (
    "documents", "rows", "files", "executions", "teams", "memberships", "presences", "account", "console", "topics",
    "databases.{id}.collections.{id}.documents", "databases.{id}.collections.{id}.documents.{id}",
    "databases.{id}.tables.{id}.rows", "databases.{id}.tables.{id}.rows.{id}",
    "tablesdb.{id}.tables.{id}.rows", "tablesdb.{id}.tables.{id}.rows.{id}",
    "buckets.{id}.files", "buckets.{id}.files.{id}",
    "executions.{id}", "functions.{id}", "projects.{id}",
    "teams.{id}", "memberships.{id}", "presences.{id}", "account.{id}",
    "topics.{id}", "topics.{id}.events.{id}",
)
# Base channels whose last or second-to-last segment is one of these also have '.<action>'.
_SUFFIXABLE = frozenset({"documents", "rows", "files", "executions", "functions", "account", "teams",
                         "memberships", "presences"})


def _with_actions(shape: str) -> tuple[str, ...]:
    parts = shape.split(".")
    if parts[-1] in _SUFFIXABLE or (len(parts) >= 2 and parts[-2] in _SUFFIXABLE):
        return shape, f"{shape}.{ACTION}"
    return (shape,)


SHAPES: tuple[tuple[str, ...], ...] = tuple(tuple(s.split(".")) for b in _BASE for s in _with_actions(b))


def _segment_fits(segment: str, shape_segment: str) -> bool:
    if segment == "*" or shape_segment == ID:
        return True
    if shape_segment == ACTION:
        return segment in ACTIONS
    return segment == shape_segment


def _fits(parts: list[str], shape: tuple[str, ...]) -> bool:
    if parts and parts[-1] == ">":
        head = parts[:-1]
        return len(shape) > len(head) and all(_segment_fits(s, t) for s, t in zip(head, shape))
    return len(parts) == len(shape) and all(_segment_fits(s, t) for s, t in zip(parts, shape))


def matches_any(channel: str) -> bool:
    """Whether ``channel`` (or pattern) can match a channel the server publishes on."""
    parts = channel.split(".")
    return all(parts) and any(_fits(parts, shape) for shape in SHAPES)


_LITERALS = frozenset(seg for shape in SHAPES for seg in shape if seg not in (ID, ACTION)) | frozenset(ACTIONS)


def _candidates(parts: list[str]) -> set[str]:
    """Published channels built from the user's own IDs: by position when the lengths agree,
    else by filling the shape's ID slots, in order, with the segments that are no keyword."""
    ids = [seg for seg in parts if seg not in _LITERALS]
    actions = [seg for seg in parts if seg in ACTIONS]
    out = set()
    for shape in SHAPES:
        if len(parts) == len(shape):
            out.add(".".join(parts[i] if seg in (ID, ACTION) else seg for i, seg in enumerate(shape)))
        slots = [seg for seg in shape if seg == ID]
        if len(slots) == len(ids) and (ACTION not in shape or actions):
            fill = iter(ids)
            out.add(".".join(next(fill) if seg == ID else actions[-1] if seg == ACTION else seg for seg in shape))
    return out


def suggest(channel: str) -> str | None:
    """The published channel most like ``channel``, if one is close enough."""
    best = difflib.get_close_matches(channel, sorted(_candidates(channel.split("."))), n=1, cutoff=0.6)
    return best[0] if best and matches_any(best[0]) and best[0] != channel else None


def check(channel: str) -> str | None:
    """None when ``channel`` can match; else a sentence saying why not and what was meant."""
    if matches_any(channel):
        return None
    if any(c.isspace() for c in channel):
        return (f"{channel!r} has a space: no channel has one (give each channel as its own argument, "
                f"with dots between segments)")
    hint = suggest(channel)
    return f"no channel the server publishes on can match {channel!r}" + (f": did you mean {hint!r}?" if hint else "")
