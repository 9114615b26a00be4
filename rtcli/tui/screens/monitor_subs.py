"""The monitor's subscriptions: made, paused, resumed and removed on the realtime source, and
what the screen needs to know of them (names for the detail pane and the filter, the server's
confirmations, counts, which one an event was left out of). The screen holds one
``Subscriptions``, which draws nothing, and one ``SubscriptionFlows``: what the subscriptions
panel's keys do (filter to one, pause it, unsubscribe after asking) and the add form."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rtcli.tui.feed import Source
from rtcli.tui.filter import EventFilter, Kind, SubscriptionRef, Verdict, with_sub
from rtcli.tui.records import EventRecord
from rtcli.tui.screens.forms import AddSubscriptionScreen, ConfirmScreen
from rtcli.tui.subs import SubscriptionState, reception_note, unique_name

if TYPE_CHECKING:
    from rtcli.tui.screens.monitor import MonitorScreen


class Subscriptions:
    """``who`` is the monitor's identity ('key', 'guest', or a user) for ``reception_note``;
    ``position`` gives the feed's current seq (a new subscription's ``since``)."""

    def __init__(self, source: Source, who: str, position: Callable[[], int]) -> None:
        self.source = source
        self.who = who
        self.position = position
        self.subs: dict[str, SubscriptionState] = {}

    def __iter__(self):
        return iter(self.subs.values())

    def __len__(self) -> int:
        return len(self.subs)

    def values(self) -> list[SubscriptionState]:
        return list(self.subs.values())

    def get(self, sid: str | None) -> SubscriptionState | None:
        return self.subs.get(sid) if sid else None

    def name_of(self, sid: str) -> str:
        sub = self.subs.get(sid)
        return sub.name if sub is not None else sid

    def refs(self) -> list[SubscriptionRef]:
        return [s.ref() for s in self.subs.values()]

    def excluded_by(self, record: EventRecord, f: EventFilter) -> str | None:
        """The subscription(s) the filter ``f`` is on whose queries left ``record`` out, by name."""
        if f.empty or f.verdict(record) is not Verdict.EXCLUDED:
            return None
        return ", ".join(s.name for t in f.terms if t.kind is Kind.SUB for s in t.subs
                         if s.id not in record.subscriptions)

    def subscription_of(self, record: EventRecord, f: EventFilter) -> SubscriptionState | None:
        """The subscription to explain ``record`` for: the one the filter ``f`` is on, else the
        first it came through."""
        for t in f.terms:
            if t.kind is Kind.SUB and not t.negate and t.subs:
                return self.subs.get(t.subs[0].id)
        return next((s for sid in record.subscriptions if (s := self.subs.get(sid))), None)

    async def add(self, channels: list[str], queries: list[str], since: str | None = None) -> SubscriptionState:
        sid = await self.source.subscribe(channels, queries, since=since)
        sub = SubscriptionState(sid, list(channels), list(queries),
                                name=unique_name(channels, (s.name for s in self.subs.values())),
                                since=self.position(), note=reception_note(channels, self.who))
        self.subs[sid] = sub
        return sub

    async def remove(self, sid: str) -> SubscriptionState | None:
        sub = self.subs.pop(sid, None)
        if sub is not None and not sub.paused:
            await self.source.unsubscribe(sid)
        return sub

    async def toggle(self, sid: str) -> SubscriptionState | None:
        """Pause: unsubscribe on the server but keep it listed; resume: subscribe again (same ID)."""
        sub = self.subs.get(sid)
        if sub is None:
            return None
        if sub.paused:
            await self.source.subscribe(sub.channels, sub.queries, subscription_id=sub.id)
            sub.paused, sub.confirmed = False, False
        else:
            await self.source.unsubscribe(sub.id)
            sub.paused = True
        # Events on its channels from now on were not withheld by its queries (paused) or are
        # new again (resumed): either way "excluded" is judged from here.
        sub.since = self.position()
        return sub

    def confirm(self, items: Iterable[dict[str, Any]]) -> list[tuple[SubscriptionState | None, str]]:
        """The server's confirmation; returns (subscription, reason) for those it could not resume."""
        failed = []
        for item in items:
            sub = self.subs.get(str(item.get("subscriptionId")))
            if sub is not None:
                sub.confirmed = True
            if item.get("resumed") is False:
                failed.append((sub, str(item.get("reason") or "unknown reason")))
        return failed

    def disconnected(self) -> None:
        """The connection is down: no subscription is confirmed until the server says so again."""
        for sub in self.subs.values():
            sub.confirmed = False

    def count(self, by_sub: dict[str, int], now: float) -> None:
        for sid, n in by_sub.items():
            sub = self.subs.get(sid)
            if sub is not None:
                sub.count += n
                sub.meter.add(n, now)


class SubscriptionFlows:
    def __init__(self, screen: MonitorScreen) -> None:
        self.screen = screen

    @property
    def subs(self) -> Subscriptions:
        return self.screen.subs

    def add(self) -> None:
        screen = self.screen

        async def done(values: dict[str, Any] | None) -> None:
            if values:
                sub = await self.subs.add(values["channels"], values["queries"])
                screen.refresh_side()
                screen.notify(f"subscribed to {', '.join(values['channels'])} (as {sub.name})")

        screen.app.push_screen(AddSubscriptionScreen(), done)

    def filter_to(self, sid: str) -> None:
        """Enter on a subscription: filter the table to it; again: back to every event."""
        sub = self.subs.get(sid)
        if sub is None:
            return
        bar = self.screen.filter_bar
        again = self.screen.sublist.filtered == sub.id
        bar.set_value(with_sub(bar.value, None if again else sub.name))

    async def pause(self, sid: str) -> None:
        await self.subs.toggle(sid)
        self.screen.refresh_side()

    def remove(self, sid: str) -> None:
        """Unsubscribe, once the user says yes (its events stay in the table)."""
        screen = self.screen
        sub = self.subs.get(sid)
        if sub is None:
            return

        async def answer(yes: bool | None) -> None:
            if yes:
                await self.subs.remove(sub.id)
                screen.refresh_side()
                if screen.sublist.filtered == sub.id:
                    screen.filter_bar.set_value(with_sub(screen.filter_bar.value, None))
                screen.notify(f"unsubscribed from {sub.label}")

        screen.app.push_screen(ConfirmScreen("Unsubscribe", f"Unsubscribe from {sub.name} ({sub.label})? Its "
                                             f"{sub.count:,} events stay in the table; a makes a new subscription.",
                                             "Unsubscribe"), answer)
