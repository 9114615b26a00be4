"""The monitor's main screen: header, subscriptions, the event table, the detail pane, the
presence pane, the filter line and the footer; it owns the model (buffer, view, subscriptions,
rates, presences) and the feed worker, and turns the feed's messages into widget updates.

Layout: below 120 columns the detail pane sits under the table; from 120 columns on, to its
right. The presence pane runs under both, shown by default from 120 columns on and hidden
below. ``b``, ``d`` and ``P`` show or hide the subscriptions panel, the detail pane and the
presence pane (``P`` is then the user's choice at every width).

Presence: the screen makes a subscription of its own to ``presences`` (id ``PRESENCE_SUBSCRIPTION``),
not listed in the subscriptions panel, whose events feed the pane and stay out of the table,
so the table and panel show exactly what the user asked for; a user who subscribes to
``presences`` too sees those events in the table as well. Each time that subscription is
confirmed (at start and after every reconnect) the pane reloads the list over REST.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from rtcli.errors import RtcliError
from rtcli.tui.feed import Feed, Source
from rtcli.tui.messages import (
    ConnectionChanged, EventsArrived, PingMeasured, PresenceEvents, PresencesLoaded, ServerWarning,
    SubscriptionsConfirmed,
)
from rtcli.tui.model import (
    EventBuffer, EventFilter, EventView, RateMeter, SubscriptionState, count_by_subscription, human_rate,
)
from rtcli.tui.presence import PresenceBoard
from rtcli.tui.screens.forms import AddSubscriptionScreen
from rtcli.tui.screens.help import HelpScreen
from rtcli.tui.screens.monitor_actions import MonitorActions
from rtcli.tui.widgets.detail import EventDetail
from rtcli.tui.widgets.event_table import EventTable
from rtcli.tui.widgets.header import StatusHeader
from rtcli.tui.widgets.presences import PresencePane
from rtcli.tui.widgets.subscriptions import SubscriptionList

if TYPE_CHECKING:
    from rtcli.tui.rest import RestActions

PRESENCE_SUBSCRIPTION = "rtcli-monitor-presences"
log = logging.getLogger("rtcli.tui.monitor")


@dataclass(frozen=True)
class MonitorConfig:
    """What the monitor shows and where it connects; ``who`` is 'key', 'guest' or a user."""

    endpoint: str
    project: str
    who: str
    subscriptions: Sequence[tuple[list[str], list[str]]] = ()
    since: str | None = None
    buffer: int = 10_000
    interval: float = 0.05


class MonitorScreen(MonitorActions, Screen[None]):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("p,space", "toggle_pause", "Pause"),
        Binding("a", "add_subscription", "Sub+"),
        Binding("x", "remove_subscription", "Remove subscription", show=False),
        Binding("m", "toggle_subscription", "Pause subscription", show=False),
        Binding("n", "create_row", "Row+"),
        Binding("u", "upload", "Upload", show=False),
        Binding("r", "run_function", "Run function", show=False),
        Binding("c", "copy_event", "Copy"),
        Binding("e", "export", "Export", show=False),
        Binding("d", "toggle_detail", "Detail", show=False),
        Binding("b", "toggle_sidebar", "Subscriptions panel", show=False),
        Binding("P", "toggle_presences", "Presence"),
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
        self.wall = wall  # Unix time, for presence ages and expiries
        self.presences = PresenceBoard()
        self.buffer = EventBuffer(config.buffer)
        self.view = EventView(self.buffer)
        self.meter = RateMeter()
        self.subs: dict[str, SubscriptionState] = {}
        self.feed = Feed(source, self.post_message, clock=clock, interval=config.interval, limit=config.buffer)
        self.paused = False
        self.state = "connecting"
        self.state_at = 0.0
        self.retry_delay: float | None = None
        self.state_error: str | None = None
        self._filter_timer: Timer | None = None
        self._stats_text = ""

    # --- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.config.endpoint, self.config.project, self.config.who)
        with Horizontal(id="body"):
            with Vertical(id="sidebar") as sidebar:
                sidebar.border_title = "Subscriptions"
                yield SubscriptionList(id="subs")
            with Vertical(id="main"):
                with Container(id="views"):
                    yield EventTable(self.view, self.buffer, id="events")
                    yield EventDetail(id="detail")
                yield PresencePane(self.presences, id="presences")
        with Horizontal(id="filter-bar"):
            yield Input(placeholder="/ filter: text  *.rows.*.delete  -exclude", id="filter")
            yield Static("", id="stats", markup=False)
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

    async def on_mount(self) -> None:
        self.query_one("#detail").border_title = "Event"
        self.query_one("#events").border_title = "Events"
        for channels, queries in self.config.subscriptions:
            await self._subscribe(channels, queries, since=self.config.since)
        # The presence pane's own subscription: see the module docstring.
        await self.source.subscribe(["presences"], subscription_id=PRESENCE_SUBSCRIPTION)
        self.feed.presence_subscription = PRESENCE_SUBSCRIPTION
        self.table.focus()
        self._refresh_side()
        self._refresh_presences()
        self._refresh_stats()
        self.set_interval(0.5, self.refresh_status)
        self.run_worker(self.feed.run(), name="feed", group="feed", exit_on_error=False)

    def refresh_status(self) -> None:
        """Redraw what changes with time: rates, counts, sparklines, the reconnect countdown
        (every 0.5 s, rather than with every batch)."""
        self._refresh_side()
        self._refresh_stats()
        self.presences.prune(self.clock())
        self._refresh_presences()
        if self.state == "reconnecting":
            self._show_state()

    # --- feed messages ---------------------------------------------------------------------

    def on_events_arrived(self, message: EventsArrived) -> None:
        try:
            self._take(message)
        finally:
            self.feed.ack()  # even if drawing failed: the feed must not wait forever

    def _take(self, message: EventsArrived) -> None:
        now = self.clock()
        records = message.records
        self.buffer.extend(records, message.skipped)
        _, trimmed = self.view.add(records)
        self.meter.add(len(records) + message.skipped, now)
        for sid, n in count_by_subscription(records).items():
            sub = self.subs.get(sid)
            if sub is not None:
                sub.count += n
                sub.meter.add(n, now)
        self.table.update_rows(trimmed)
        # The status line is redrawn by the 0.5 s tick, not per batch: a change at the bottom
        # of the screen in the same frame as the table would widen the repainted area to
        # everything in between.

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        self.state, self.state_at = message.state, message.at
        self.retry_delay, self.state_error = message.delay, message.error
        if message.state == "connected" and message.reconnect:
            self.notify("reconnected; missed events are replayed from the last cursor", timeout=3)
        if message.state == "failed":
            self.notify(f"the server refused the connection: {message.error}", severity="error", timeout=10)
        self._show_state()

    def _show_state(self) -> None:
        header = self.query_one(StatusHeader)
        if self.state == "reconnecting" and self.retry_delay is not None:
            left = max(0.0, self.state_at + self.retry_delay - self.clock())
            why = f" ({self.state_error})" if self.state_error else ""
            header.set_state("reconnecting", f"in {left:.0f} s{why}")
        elif self.state == "failed":
            header.set_state("failed", self.state_error or "")
        else:
            header.set_state(self.state)

    def on_subscriptions_confirmed(self, message: SubscriptionsConfirmed) -> None:
        for item in message.items:
            if item.get("subscriptionId") == PRESENCE_SUBSCRIPTION:
                self._load_presences()  # a reload covers whatever a resume could not replay
                continue
            sub = self.subs.get(str(item.get("subscriptionId")))
            if sub is not None:
                sub.confirmed = True
            if item.get("resumed") is False:
                self.notify(f"could not resume: {item.get('reason') or 'unknown reason'}; events may have been missed",
                            severity="warning")
        self._refresh_side()

    def on_ping_measured(self, message: PingMeasured) -> None:
        self.query_one(StatusHeader).set_rtt(message.rtt)

    def on_server_warning(self, message: ServerWarning) -> None:
        if message.dropped:
            self.buffer.dropped += message.dropped
        self.notify(message.text, severity="warning")

    # --- presences ---------------------------------------------------------------------------

    def on_presence_events(self, message: PresenceEvents) -> None:
        if self.presences.apply_many(message.events, self.clock()):
            self._refresh_presences()

    def _load_presences(self) -> None:
        token = self.presences.begin_load()
        if self.rest is None:
            self.presences.fail_load(token, "no REST API in this session")
        else:
            self._fetch_presences(token)
        self._refresh_presences()

    @work(thread=True, group="presences")
    def _fetch_presences(self, token: int) -> None:
        try:
            items = self.rest.presences()
        except RtcliError as e:
            self.post_message(PresencesLoaded(token, None, str(e)))
            return
        except Exception as e:  # e.g. a server that answers something else: say so in the pane, go on
            log.exception("could not list the presences")
            self.post_message(PresencesLoaded(token, None, f"{type(e).__name__}: {e}"))
            return
        self.post_message(PresencesLoaded(token, items))

    def on_presences_loaded(self, message: PresencesLoaded) -> None:
        if message.presences is None:
            self.presences.fail_load(message.token, message.error or "unknown error")
        else:
            self.presences.finish_load(message.token, message.presences, self.clock())
        self._refresh_presences()

    def set_account(self, account: dict[str, Any] | None, who: str) -> None:
        """The signed-in user (from ``GET /account``): named in the header and in the presence pane."""
        self.query_one(StatusHeader).set_who(who)
        if account and account.get("$id"):
            name = str(account.get("name") or account.get("email") or account["$id"])
            self.presences.set_name(str(account["$id"]), name, me=True)
            self._refresh_presences()

    def _refresh_presences(self) -> None:
        pane = self.presence_pane
        if pane.display:
            pane.show(self.clock(), self.wall())

    def action_toggle_presences(self) -> None:
        """Show or hide the presence pane; from then on the choice holds at every width."""
        shown = not self.presence_pane.display
        self.set_class(shown, "-presences-on")
        self.set_class(not shown, "-presences-off")
        self.call_after_refresh(self._refresh_presences)

    # --- table, detail, filter ----------------------------------------------------------------

    def on_event_table_selected(self, message: EventTable.Selected) -> None:
        # While following, the selection changes with every batch: redraw the detail at most
        # once a second (an explicit selection redraws at once).
        self.detail.show(message.record, immediate=not message.following)

    def on_event_table_follow_changed(self, message: EventTable.FollowChanged) -> None:
        self._refresh_stats()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.15, self._apply_filter)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._apply_filter()
        self.table.focus()

    def _apply_filter(self) -> None:
        self._filter_timer = None
        text = self.query_one("#filter", Input).value
        if text.strip() == self.view.filter.text:
            return
        self.view.set_filter(EventFilter.parse(text))
        self.table.reset_rows()
        self._refresh_stats()

    def _refresh_stats(self) -> None:
        now = self.clock()
        if self.paused:
            mode = f"‖ paused, {self.view.hidden:,} new"
        elif self.table.following:
            mode = "▼ following"
        else:
            mode = "↑ scrolled (end: follow)"
        text = (f"{human_rate(self.meter.rate(now))} · {self.view.visible:,}/{len(self.buffer):,}"
                f" · {mode}")
        stats = self.query_one("#stats", Static)
        # Its width is automatic, and a layout costs a full repaint: pad to steps of 8 cells so
        # that the layout changes only when the text's length crosses one.
        text = text.rjust((len(text) + 7) // 8 * 8)
        if text != self._stats_text:
            stats.update(text, layout=len(text) != len(self._stats_text))
            self._stats_text = text
        stats.set_class(self.paused, "paused")

    def _refresh_side(self) -> None:
        if self.query_one("#sidebar").display:
            self.sublist.show(list(self.subs.values()), self.clock())

    # --- subscriptions ---------------------------------------------------------------------

    async def _subscribe(self, channels: list[str], queries: list[str], since: str | None = None) -> str:
        sid = await self.source.subscribe(channels, queries, since=since)
        self.subs[sid] = SubscriptionState(sid, list(channels), list(queries))
        return sid

    def action_add_subscription(self) -> None:
        async def done(values: dict[str, Any] | None) -> None:
            if values:
                await self._subscribe(values["channels"], values["queries"])
                self._refresh_side()
                self.notify(f"subscribed to {', '.join(values['channels'])}")

        self.app.push_screen(AddSubscriptionScreen(), done)

    def _highlighted_sub(self) -> SubscriptionState | None:
        sid = self.sublist.selected_id
        sub = self.subs.get(sid) if sid else None
        if sub is None:
            self.notify("no subscription highlighted (tab to the panel, or click one)", severity="warning")
        return sub

    async def action_remove_subscription(self) -> None:
        sub = self._highlighted_sub()
        if sub is None:
            return
        await self.source.unsubscribe(sub.id)
        del self.subs[sub.id]
        self._refresh_side()
        self.notify(f"unsubscribed from {sub.label}")

    async def action_toggle_subscription(self) -> None:
        """Pause: unsubscribe on the server but keep it listed; resume: subscribe again (same ID)."""
        sub = self._highlighted_sub()
        if sub is None:
            return
        if sub.paused:
            await self.source.subscribe(sub.channels, sub.queries, subscription_id=sub.id)
            sub.paused, sub.confirmed = False, False
        else:
            await self.source.unsubscribe(sub.id)
            sub.paused = True
        self._refresh_side()

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
        self.query_one("#filter", Input).focus()

    def on_key(self, event: Any) -> None:
        if event.key == "escape" and self.focused is self.query_one("#filter", Input):
            event.stop()
            self.table.focus()

    def action_toggle_detail(self) -> None:
        detail = self.detail
        detail.display = not detail.display

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display
        self._refresh_side()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())
