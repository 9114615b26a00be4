"""The monitor's main screen: header, subscriptions, the event table, the detail pane, the
presence pane, the filter line and the footer. It owns the model (buffer, view, rates) and the
feed worker, turns the feed's messages into widget updates, and holds its collaborators: the
``Subscriptions`` and their ``SubscriptionFlows``, the ``PresenceFeed``, the ``Panes`` (layout)
and the ``Actions``.

Keys are contextual: the footer shows the focused panel's keys (the table's, the subscriptions
panel's, a form's) before the few that work everywhere.

Connection (``rtcli.tui.link``): while it is down the panes are dimmed, and the ping, the
subscriptions' dots and the presence pane say they are not live; when it comes back a marker row
in the table says when it was lost, and the missed events follow it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Input

from rtcli.tui.feed import Feed, Source
from rtcli.tui.filter import EventFilter, Kind
from rtcli.tui.link import Connection, Link
from rtcli.tui.messages import (
    ConnectionChanged, EventsArrived, PingMeasured, PresenceEvents, PresencesLoaded, ServerWarning,
    SubscriptionsConfirmed,
)
from rtcli.tui.model import EventBuffer, EventView, RateMeter, human_rate
from rtcli.tui.records import EventRecord
from rtcli.tui.screens.help import HelpScreen
from rtcli.tui.screens.monitor_actions import Actions
from rtcli.tui.screens.monitor_panes import Panes
from rtcli.tui.screens.monitor_presence import PRESENCE_SUBSCRIPTION, PresenceFeed
from rtcli.tui.screens.monitor_subs import SubscriptionFlows, Subscriptions
from rtcli.tui.screens.publish import Publishing
from rtcli.tui.subs import count_by_subscription
from rtcli.tui.widgets.detail import EventDetail
from rtcli.tui.widgets.event_table import EventTable
from rtcli.tui.widgets.filter_bar import FilterBar
from rtcli.tui.widgets.header import StatusHeader
from rtcli.tui.widgets.presences import PresencePane
from rtcli.tui.widgets.subscriptions import SubscriptionList

if TYPE_CHECKING:
    from rtcli.tui.rest import RestActions

log = logging.getLogger("rtcli.tui.monitor")
__all__ = ["PRESENCE_SUBSCRIPTION", "MonitorConfig", "MonitorScreen"]

FOLLOWING, SCROLLED = "▼ following", "↑ scrolled (end: follow)"

# Actions that type a letter: off while the filter line has the focus (so its footer is its own).
_LETTER_ACTIONS = {"toggle_pause", "add_subscription", "create_row", "upload", "run_function", "publish", "export",
                   "toggle_detail", "toggle_sidebar", "toggle_presences", "help", "screenshot", "focus_filter"}


@dataclass(frozen=True)
class MonitorConfig:
    """What the monitor shows and where it connects; ``who`` is 'key', 'guest' or 'session'."""

    endpoint: str
    project: str
    who: str
    subscriptions: Sequence[tuple[list[str], list[str]]] = ()
    since: str | None = None
    buffer: int = 10_000
    interval: float = 0.05


class MonitorScreen(Screen[None]):
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("p,space", "toggle_pause", "Pause"),
        Binding("a", "add_subscription", "Subscribe", show=False),
        Binding("n", "create_row", "Row+", show=False),
        Binding("u", "upload", "Upload", show=False),
        Binding("r", "run_function", "Run function", show=False),
        Binding("t", "publish", "Publish", show=False),
        Binding("e", "export", "Export", show=False),
        Binding("d", "toggle_detail", "Detail", show=False),
        Binding("b", "toggle_sidebar", "Subscriptions panel", show=False),
        Binding("P", "toggle_presences", "Presence", show=False),
        Binding("S", "app.screenshot", "Screenshot", show=False),
        Binding("escape", "back", "Back", show=False),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, config: MonitorConfig, source: Source, rest: RestActions | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.config = config
        self.source = source
        self.rest = rest
        self.clock = clock
        self.wall = wall  # Unix time, for presence ages, expiries and markers
        self.buffer = EventBuffer(config.buffer)
        self.view = EventView(self.buffer)
        self.meter = RateMeter()
        self.feed = Feed(source, self.post_message, clock=clock, interval=config.interval, limit=config.buffer)
        self.subs = Subscriptions(source, config.who, lambda: self.feed.seq)
        self.flows = SubscriptionFlows(self)
        self.presence = PresenceFeed(self)
        self.actions = Actions(self)
        self.publishing = Publishing(self)
        self.account_id: str | None = None
        self.paused = False
        self.connection = Connection()
        self.panes = Panes(self)

    @property
    def link(self) -> Link:
        return self.connection.link

    @property
    def state(self) -> str:
        return self.link.value

    @property
    def presences(self):
        return self.presence.board

    # --- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.config.endpoint, self.config.project, self.config.who)
        with Horizontal(id="body"):
            with Vertical(id="sidebar") as sidebar:
                sidebar.border_title = "Subscriptions"
                yield SubscriptionList(id="subs")
            with Container(id="main"):
                yield EventTable(self.view, self.buffer, id="events")
                yield EventDetail(id="detail", name_of=self.subs.name_of,
                                  excluded_by=lambda r: self.subs.excluded_by(r, self.view.filter),
                                  why=self.actions.why)
                yield PresencePane(self.presence.board, id="presences")
        yield FilterBar(id="filter-bar")
        yield Footer(compact=True)

    @property
    def table(self) -> EventTable:
        return self.query_one(EventTable)

    @property
    def detail(self) -> EventDetail:
        return self.query_one(EventDetail)

    @property
    def sublist(self) -> SubscriptionList:
        return self.query_one(SubscriptionList)

    @property
    def presence_pane(self) -> PresencePane:
        return self.query_one(PresencePane)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    async def on_mount(self) -> None:
        self.detail.border_title = "Event"
        self.table.border_title = "Events"
        for channels, queries in self.config.subscriptions:
            await self.subs.add(channels, queries, since=self.config.since)
        await self.presence.subscribe()
        self.table.focus()
        self.panes.relayout()
        self.refresh_side()
        self._refresh_stats()
        self.set_interval(0.5, self.refresh_status)
        self.run_worker(self.feed.run(), name="feed", group="feed", exit_on_error=False)

    def on_resize(self, event: Resize) -> None:
        self.panes.relayout()

    def refresh_status(self) -> None:
        """Redraw what changes with time: rates, counts, sparklines, the reconnect countdown
        (every 0.5 s, rather than with every batch)."""
        self.refresh_side()
        self._refresh_stats()
        self.presence.tick()
        if self.link is Link.RECONNECTING:
            self._show_state()

    # --- feed messages ---------------------------------------------------------------------

    def on_events_arrived(self, message: EventsArrived) -> None:
        try:
            self._take(message.records, message.skipped)
            self.meter.add(len(message.records) + message.skipped, self.clock())
            self.subs.count(count_by_subscription(message.records), self.clock())
        finally:
            self.feed.ack()  # even if drawing failed: the feed must not wait forever
        # The status line is redrawn by the 0.5 s tick, not per batch: a change at the bottom
        # of the screen in the same frame as the table would widen the repainted area to
        # everything in between.

    def _take(self, records: list[EventRecord], skipped: int = 0) -> None:
        self.buffer.extend(records, skipped)
        _, trimmed = self.view.add(records)
        self.table.update_rows(trimmed)

    def add_marker(self, text: str) -> None:
        """A row of the table's own (a gap, a reconnect), in order with the events around it."""
        record = EventRecord.marker(self.feed.next_seq(), self.clock(), text)
        self.buffer.mark(record)
        _, trimmed = self.view.add([record])
        self.table.update_rows(trimmed)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        was_live = self.link.live
        marker = self.connection.change(message.state, at=message.at, wall=self.wall(), delay=message.delay,
                                        error=message.error, reconnect=message.reconnect)
        if was_live and not self.link.live:
            self.subs.disconnected()
        if marker:
            self.add_marker(marker)
        if self.link is Link.FAILED:
            self.notify(f"the server refused the connection: {message.error}", severity="error", timeout=10)
        self._show_state()

    def _show_state(self) -> None:
        self.query_one(StatusHeader).set_state(*self.connection.header(self.clock()))
        self.set_class(self.link.down, "-offline")
        self.presence_pane.live = not self.link.down
        self.refresh_side()
        self.presence.refresh_pane()

    def on_subscriptions_confirmed(self, message: SubscriptionsConfirmed) -> None:
        if any(item.get("subscriptionId") == PRESENCE_SUBSCRIPTION for item in message.items):
            self.presence.load()  # a reload covers whatever a resume could not replay
        for sub, reason in self.subs.confirm(message.items):
            name = sub.name if sub is not None else "a subscription"
            self.add_marker(f"could not resume {name}: {reason}; events may be missing here")
        self.refresh_side()

    def on_ping_measured(self, message: PingMeasured) -> None:
        self.query_one(StatusHeader).set_rtt(message.rtt)

    def on_server_warning(self, message: ServerWarning) -> None:
        if message.dropped:
            self.buffer.dropped += message.dropped
            self.add_marker(f"the server dropped {message.dropped:,} event(s) here: this monitor was too slow")
        self.notify(message.text, severity="warning")

    def on_presence_events(self, message: PresenceEvents) -> None:
        self.presence.apply(message.events)

    def on_presences_loaded(self, message: PresencesLoaded) -> None:
        self.presence.loaded(message)

    def set_account(self, account: dict[str, Any] | None, who: str) -> None:
        """The signed-in user (from ``GET /account``): named in the header and in the presence pane."""
        self.query_one(StatusHeader).set_who(who)
        if account and account.get("$id"):
            self.account_id = str(account["$id"])
            self.presence.set_me(account)

    # --- table, detail, filter ----------------------------------------------------------------

    def on_event_table_selected(self, message: EventTable.Selected) -> None:
        if message.by_user:
            self.detail.show(message.record, force=True)  # same event, new filter: greyed or not
        else:
            self.detail.follow(message.record)  # new rows: the newest, a few times a second

    def on_event_table_follow_changed(self, message: EventTable.FollowChanged) -> None:
        self._refresh_stats()

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self._apply_filter(message.text)
        if message.submitted:
            self.table.focus()

    def _apply_filter(self, text: str, force: bool = False) -> None:
        if text.strip() == self.view.filter.text and not force:
            return
        f = EventFilter.parse(text, self.subs.refs())
        self.view.set_filter(f)
        self.sublist.filtered = next((s.id for t in f.terms if t.kind is Kind.SUB and not t.negate for s in t.subs),
                                     None)
        if f.unknown:
            self.notify(f"no subscription named {', '.join(f.unknown)} (names are in the subscriptions panel)",
                        severity="warning", timeout=4)
        self.table.reset_rows()
        self._refresh_stats()
        self.refresh_side()

    def _refresh_stats(self) -> None:
        if self.paused:
            mode = f"‖ paused, {self.view.hidden:,} new"
        elif self.table.following:
            mode = FOLLOWING
        else:
            mode = SCROLLED
        rate = human_rate(self.meter.rate(self.clock())) if self.link.live else (
            "offline" if self.link.down else self.state)
        counts = f"{rate} · {self.view.visible:,}/{len(self.buffer):,} · "
        # As wide scrolled as following: a key that stops or resumes following changes no width.
        self.filter_bar.show_stats(counts + mode, self.paused, width=len(counts) + max(len(mode), len(SCROLLED)))

    def refresh_side(self) -> None:
        if self.query_one("#sidebar").display:
            self.sublist.show(list(self.subs), self.clock(), live=self.link.live)

    # --- subscriptions (see SubscriptionFlows) ----------------------------------------------

    def action_add_subscription(self) -> None:
        self.flows.add()

    def on_subscription_list_chosen(self, message: SubscriptionList.Chosen) -> None:
        self.flows.filter_to(message.sid)

    async def on_subscription_list_pause_asked(self, message: SubscriptionList.PauseAsked) -> None:
        await self.flows.pause(message.sid)

    def on_subscription_list_remove_asked(self, message: SubscriptionList.RemoveAsked) -> None:
        self.flows.remove(message.sid)

    # --- actions ---------------------------------------------------------------------------

    def action_copy_event(self) -> None:
        self.actions.copy_event()

    def action_export(self) -> None:
        self.actions.export()

    def action_create_row(self) -> None:
        self.actions.create_row()

    def action_upload(self) -> None:
        self.actions.upload()

    def action_run_function(self) -> None:
        self.actions.run_function()

    def action_explain(self) -> None:
        self.actions.explain()

    def action_publish(self) -> None:
        self.publishing.open()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the filter line is focused its keys are its own (and so is the footer)."""
        if action in _LETTER_ACTIONS and isinstance(self.focused, Input):
            return False
        return True

    # --- pause, panels, help -----------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self.view.freeze()
            self.table.set_following(False)
        else:
            self.view.thaw()
            self.table.update_rows()
            self.table.set_following(True)
        self._refresh_stats()

    def action_follow(self) -> None:
        if self.paused:
            self.action_toggle_pause()
        else:
            self.table.set_following(True)

    def action_focus_filter(self) -> None:
        # At once (focus() waits for the next idle): the keys typed right after / are the filter's.
        self.set_focus(self.filter_bar.input)

    # Where the panes go, and full screen: see Panes.
    def action_back(self) -> None:
        self.panes.back()

    def action_full_detail(self) -> None:
        self.panes.full_detail()

    def action_toggle_detail(self) -> None:
        self.panes.toggle_detail()

    def action_toggle_sidebar(self) -> None:
        self.panes.toggle_sidebar()

    def action_toggle_presences(self) -> None:
        self.panes.toggle_presences()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())
