"""The monitor's live filter: what people type after ``/``, parsed into terms that match what
the table shows. Pure Python, no Textual.

Terms are separated by spaces; every term must match (``-term``: must not match):

- ``word`` — in the row as shown: action, resource, ID and the user's fields (``key=value``), case
  insensitive. Not the ``$`` fields nor the event names, so ``create`` finds creates, not every
  row whose ``$createdAt`` says so;
- ``"a phrase"`` — the same, with its spaces;
- ``key=value`` — the payload's field ``key`` shown as ``value`` (as in the summary: ``n=1000``,
  ``text="two words"``, ``done=true``); ``value`` may hold ``*`` and ``?``; ``key=`` tests presence;
- ``action:delete``, ``action:create,update`` — the action, any of them;
- ``sub:NAME`` — delivered to that subscription (its name in the panel, its ID or one of its
  channels; several with commas). Events on its channels that it did not get since it was made
  (a query excluded them) stay in view, marked ``EXCLUDED``, so the table can grey them;
- ``id:PREFIX`` — the row's ID starts with it;
- a term with ``*``, ``?`` or ``[`` — an event-name glob (``*.rows.*.delete``, ``buckets.*``); ``*``
  matches across dots. Several globs: any of them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from rtcli.tui.records import EventRecord

_TOKEN = re.compile(r'-?[^\s"]*"[^"]*(?:"|$)|\S+')
_FIELD = re.compile(r"^([A-Za-z$_][\w$.-]*)=(.*)$", re.S)
PREFIXES = ("action", "sub", "id")


class Verdict(enum.Enum):
    SHOWN = "shown"
    EXCLUDED = "excluded"  # on a ``sub:`` term's channels, but not delivered to it
    HIDDEN = "hidden"


class Kind(enum.Enum):
    WORD = "word"
    FIELD = "field"
    ACTION = "action"
    SUB = "sub"
    ID = "id"
    GLOB = "glob"


@dataclass(frozen=True)
class SubscriptionRef:
    """What ``sub:NAME`` needs to know of a subscription: its names and channels, and the
    ``since`` seq of the first record that could have been delivered to it."""

    id: str
    name: str
    channels: tuple[str, ...]
    since: int = 0

    def called(self, name: str) -> bool:
        n = name.lower()
        return n in (self.id.lower(), self.name.lower()) or any(n == c.lower() for c in self.channels)


@dataclass(frozen=True)
class Term:
    kind: Kind
    negate: bool
    value: str  # lower-cased except globs
    key: str = ""  # FIELD: the field's name (lower case)
    values: tuple[str, ...] = ()  # ACTION: the actions; SUB: the names asked for
    subs: tuple[SubscriptionRef, ...] = ()  # SUB: the subscriptions those names resolved to

    def test(self, r: EventRecord) -> bool:
        kind = self.kind
        if kind is Kind.WORD:
            return self.value in r.hay
        if kind is Kind.FIELD:
            shown = r.fields.get(self.key)
            if shown is None:
                return False
            shown = shown.lower()
            if not self.value:
                return True
            if shown == self.value or (shown.startswith('"') and shown[1:-1] == self.value):
                return True
            return any(c in self.value for c in "*?[") and fnmatchcase(shown.strip('"'), self.value)
        if kind is Kind.ACTION:
            return r.action in self.values
        if kind is Kind.ID:
            return r.rid.lower().startswith(self.value)
        if kind is Kind.GLOB:
            return any(fnmatchcase(n, self.value) for n in r.events)
        delivered = r.subscriptions
        return any(s.id in delivered for s in self.subs)

    def near_miss(self, r: EventRecord) -> bool:
        """For a ``sub:`` term: the record is on one of the subscriptions' channels and came
        after it was made, but was not delivered to it."""
        channels = r.channels
        return any(r.seq > s.since and any(c in channels for c in s.channels) for s in self.subs)


@dataclass(frozen=True)
class EventFilter:
    """A parsed filter; see the module docstring. ``unknown`` names the ``sub:`` names that
    matched no subscription (the filter then matches nothing for that term)."""

    text: str = ""
    terms: tuple[Term, ...] = ()
    unknown: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, text: str, subs: Sequence[SubscriptionRef] = ()) -> EventFilter:
        terms: list[Term] = []
        unknown: list[str] = []
        for token in _TOKEN.findall(text):
            negate = token.startswith("-") and len(token) > 1
            if negate:
                token = token[1:]
            term = _term(token, negate, subs, unknown)
            if term is not None:
                terms.append(term)
        return cls(text.strip(), tuple(terms), tuple(unknown))

    @property
    def empty(self) -> bool:
        return not self.terms

    @property
    def globs(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.kind is Kind.GLOB and not t.negate)

    def verdict(self, r: EventRecord) -> Verdict:
        if r.is_marker:
            return Verdict.SHOWN  # gaps and reconnects stay in view whatever the filter
        excluded = False
        globs = self.globs
        if globs and not any(t.test(r) for t in globs):
            return Verdict.HIDDEN
        for t in self.terms:
            if t.kind is Kind.GLOB and not t.negate:
                continue
            if t.test(r) == t.negate:
                if t.kind is Kind.SUB and not t.negate and t.near_miss(r):
                    excluded = True
                    continue
                return Verdict.HIDDEN
        return Verdict.EXCLUDED if excluded else Verdict.SHOWN

    def matches(self, r: EventRecord) -> bool:
        """In view: shown, or shown greyed (``Verdict.EXCLUDED``)."""
        return not self.terms or self.verdict(r) is not Verdict.HIDDEN

    def sub_names(self) -> tuple[str, ...]:
        return tuple(v for t in self.terms if t.kind is Kind.SUB and not t.negate for v in t.values)


def _unquote(text: str) -> str:
    if text.startswith('"'):
        text = text[1:]
        return text[:-1] if text.endswith('"') else text
    return text


def _term(token: str, negate: bool, subs: Sequence[SubscriptionRef], unknown: list[str]) -> Term | None:
    prefix, colon, rest = token.partition(":")
    if colon and prefix.lower() in PREFIXES and rest:
        kind = Kind(prefix.lower())
        names = tuple(n for n in _unquote(rest).split(",") if n)
        if kind is Kind.ACTION:
            return Term(kind, negate, rest.lower(), values=tuple(n.lower() for n in names))
        if kind is Kind.SUB:
            found = tuple(s for s in subs if any(s.called(n) for n in names))
            unknown += [n for n in names if not any(s.called(n) for s in subs)]
            return Term(kind, negate, rest.lower(), values=names, subs=found)
        return Term(kind, negate, _unquote(rest).lower())
    m = _FIELD.match(token)
    if m:
        return Term(Kind.FIELD, negate, _unquote(m.group(2)).lower(), key=m.group(1).lower())
    if token.startswith('"'):
        phrase = _unquote(token).lower()
        return Term(Kind.WORD, negate, phrase) if phrase else None
    if any(c in token for c in "*?["):
        return Term(Kind.GLOB, negate, token)
    return Term(Kind.WORD, negate, token.lower())


def with_sub(text: str, name: str | None) -> str:
    """The filter ``text`` with its ``sub:`` terms replaced by ``sub:name`` (none if ``name`` is None)."""
    kept = [t for t in _TOKEN.findall(text) if not t.lower().startswith("sub:")]
    if name:
        kept.append(f'sub:"{name}"' if " " in name else f"sub:{name}")
    return " ".join(kept)
