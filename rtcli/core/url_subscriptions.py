"""Subscriptions carried by the WebSocket URL, as Appwrite reads them.

The channel list is ``channels[]=…`` (the SDKs), ``channels[0]=…`` (PHP's and some HTTP
libraries' encoding) or a repeated ``channels=…``. Queries ride beside it, one parameter per
channel and slot: ``<channel>[<slot>][]=<query>`` (the form the SDKs up to about v25 send; a
bare ``<channel>[]=<query>`` or ``<channel>=<query>`` is a slot of its own, as PHP parses it). The
channel's dots may be written as underscores, the name PHP gives the parameter.

Each slot is one subscription: channels with a query in slot N join subscription N, with that
slot's queries (the first channel to fill a slot sets them); channels with no query join
subscription 0, which then matches everything. This is Appwrite's constructSubscriptions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_GROUP = re.compile(r"\[([^\[\]]*)\]")
_INDEX = re.compile(r"^\d{1,4}$")
SELECT_ALL = '{"method":"select","values":["*"]}'


@dataclass
class UrlSubscription:
    channels: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # raw, as sent


def channels(items: list[tuple[str, str]]) -> list[str]:
    """The channel list, in the order given (indexed entries by their index), without repeats."""
    indexed: list[tuple[int, str]] = []
    plain: list[str] = []
    for key, value in items:
        m = _KEY.match(key)
        if not m or m.group(1) != "channels":
            continue
        groups = _GROUP.findall(m.group(2))
        if not groups:
            plain.append(value)
        elif len(groups) == 1 and groups[0] == "":
            plain.append(value)
        elif len(groups) == 1 and _INDEX.match(groups[0]):
            indexed.append((int(groups[0]), value))
    ordered = [v for _, v in sorted(indexed, key=lambda t: t[0])] + plain
    return list(dict.fromkeys(c for c in ordered if c))


def _slots(items: list[tuple[str, str]], channel: str) -> dict[int, list[str]] | None:
    """The query slots of one channel's parameter (None: no such parameter)."""
    names = {channel, channel.replace(".", "_")}
    slots: dict[int, list[str]] = {}
    found = False
    for key, value in items:
        m = _KEY.match(key)
        if not m or m.group(1) not in names:
            continue
        found = True
        groups = _GROUP.findall(m.group(2))
        if not groups:  # channel=q: one slot
            slots[0] = [value]
        elif groups[0] == "":  # channel[]=q, channel[][]=q: a new slot each time
            slots[max(slots, default=-1) + 1] = [value]
        elif _INDEX.match(groups[0]):
            n = int(groups[0])
            if len(groups) == 1:  # channel[N]=q: that slot's one query
                slots[n] = [value]
            else:  # channel[N][]=q: appended to slot N
                slots.setdefault(n, []).append(value)
    return slots if found else None


def subscriptions(names: list[str], items: list[tuple[str, str]]) -> dict[int, UrlSubscription]:
    """Subscriptions by slot, for the (converted) channel ``names``. ``project`` is never a
    channel's query parameter."""
    subs: dict[int, UrlSubscription] = {}
    for name in names:
        slots = None if name == "project" else _slots(items, name)
        if slots is None:
            sub = subs.setdefault(0, UrlSubscription())
            sub.channels.append(name)
            if not sub.queries:
                sub.queries = [SELECT_ALL]
            continue
        for n, raws in sorted(slots.items()):
            sub = subs.setdefault(n, UrlSubscription())
            if name not in sub.channels:
                sub.channels.append(name)
            if not sub.queries:
                sub.queries = list(raws)
    return dict(sorted(subs.items()))
