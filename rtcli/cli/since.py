"""``--since``, for every command that takes it (subscribe, monitor, events list).

What people type is checked here before anything is sent: a word that is none of the accepted
forms (``10x``, ``yesterday``) is a usage error naming them all, where the server could only say
it is no cursor. Then, for the commands that stream (subscribe, monitor): the server accepts any
``since`` on the wire and answers, per subscription, whether it could resume from it. Streaming
live events after a refused replay would look like an empty history, so both commands stop with
exit 1 and the same message instead. `rtcli monitor` asks first, on a short-lived connection of
its own, so the message is printed before the TUI takes the screen.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtcli.client.config import Settings
    from rtcli.client.stream import Subscribed

CHECK_TIMEOUT = 10.0  # seconds; past it the monitor starts anyway and shows what it gets
ACCEPTED = ("Use 'beginning', a duration (30s, 10m, 2h, 1d), an ISO datetime, "
            "or a cursor from `rtcli events list`.")
HELP = "'beginning', a duration (30s, 10m, 2h, 1d), an ISO datetime, or a cursor"
# The server's cursors are c<version>.<epoch>.<position>; what follows the prefix is the server's
# to judge (another database's epoch, a pruned position), so only the prefix is checked here.
_CURSOR = re.compile(r"^c\d+\.\S+$")
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d")


def parse(text: str | None) -> str | None:
    """``--since`` as the server takes it (see ``rtcli.client.stream.parse_since``); ValueError,
    with every accepted form, for anything else."""
    if text is None:
        return None
    if not text.strip():
        raise ValueError(f"must not be empty. {ACCEPTED}")
    from rtcli.client.realtime import BEGINNING, parse_since  # lazy: the realtime client is not cheap to import

    try:
        value = parse_since(text) or ""
    except ValueError as e:
        raise ValueError(f"{e}. {ACCEPTED}") from None
    # parse_since turns durations and dates into a datetime and passes anything else on as a cursor.
    if value == BEGINNING or _DATETIME.match(value) or _CURSOR.match(value):
        return value
    raise ValueError(f"{value!r} is not a point in the log. {ACCEPTED}")


def refusal(since: str, subscribed: Subscribed) -> str | None:
    """The error for the first subscription the server could not resume from ``since``, if any."""
    refused = subscribed.not_resumed()
    if not refused:
        return None
    reason = refused[0].get("reason") or "the server could not replay from that point"
    return f"cannot replay from --since {since}: {reason}. {ACCEPTED}"


async def check(settings: Settings, subscriptions: list[tuple[list[str], list[str]]], since: str) -> str | None:
    """Subscribe as the monitor will and return the server's refusal of ``since``, if any.

    Anything else (no server, a refused connection or query, no answer within CHECK_TIMEOUT) is
    no verdict: the monitor shows those itself, and retries."""
    import asyncio

    from rtcli.client.realtime import (
        ConnectionState, RealtimeClient, RealtimeFatal, ServerError, StateChange, Subscribed,
    )

    client = RealtimeClient(settings.endpoint, settings.project, key=settings.key, session=settings.session)
    for channels, queries in subscriptions:
        await client.subscribe(channels, queries, since=since)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async for item in client.stream():
                if isinstance(item, Subscribed):
                    return refusal(since, item)
                if isinstance(item, ServerError) or (
                        isinstance(item, StateChange) and item.state is ConnectionState.RECONNECTING):
                    return None
    except (TimeoutError, RealtimeFatal):
        return None
    finally:
        await client.close()
    return None
