"""``rtcli monitor``'s Textual app: the live event stream of one endpoint and project.

The app is the composition root of the TUI: it takes a realtime source (a ``RealtimeClient``,
or a scripted one in snapshot tests and benchmarks), the REST actions and a clock, pushes the
``MonitorScreen`` and adds the monitor's commands to the command palette. ``MonitorApp.connect``
builds the real thing from resolved CLI settings.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.screen import Screen

from rtcli.tui.feed import Source
from rtcli.tui.model import DEFAULT_BUFFER
from rtcli.tui.screens.monitor import MonitorConfig, MonitorScreen

if TYPE_CHECKING:
    from rtcli.client.config import Settings
    from rtcli.tui.rest import RestActions

# (title, help, MonitorScreen action) for the command palette.
COMMANDS = (
    ("Create row", "Create a row from a form (database, table, JSON data)", "create_row"),
    ("Upload file", "Upload a file to a storage bucket, with progress", "upload"),
    ("Run function", "Run a function with a request body", "run_function"),
    ("Add subscription", "Subscribe to more channels, with optional queries", "add_subscription"),
    ("Remove subscription", "Unsubscribe the highlighted subscription", "remove_subscription"),
    ("Pause or resume subscription", "Unsubscribe the highlighted subscription but keep it listed",
     "toggle_subscription"),
    ("Pause or resume the table", "Stop or restart showing new events (they are still counted)", "toggle_pause"),
    ("Follow the newest events", "Jump to the end of the table and follow it", "follow"),
    ("Copy event JSON", "Copy the selected event's JSON to the clipboard", "copy_event"),
    ("Export to JSON lines", "Write the events shown (filtered) to a file", "export"),
    ("Filter", "Focus the filter: text, event-name globs like *.rows.*.delete, -exclude", "focus_filter"),
    ("Toggle detail pane", "Show or hide the selected event's JSON", "toggle_detail"),
    ("Toggle subscriptions panel", "Show or hide the subscriptions panel", "toggle_sidebar"),
    ("Toggle presence pane", "Show or hide who is present (presences: status, source, metadata), live",
     "toggle_presences"),
    ("Help", "Keys, filter syntax and states", "help"),
)


class MonitorApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "rtcli monitor"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, config: MonitorConfig, source: Source, rest: RestActions | None = None, *,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 theme: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.source = source
        self.rest = rest
        self.clock = clock
        self.wall = wall
        if theme:
            self.theme = theme

    @classmethod
    def connect(cls, settings: Settings, subscriptions: Sequence[tuple[list[str], list[str]]], *,
                since: str | None = None, buffer: int = DEFAULT_BUFFER, theme: str | None = None) -> MonitorApp:
        """The app for resolved CLI settings: a ``RealtimeClient`` and REST actions on that endpoint."""
        from rtcli.client.realtime import RealtimeClient
        from rtcli.tui.rest import RestActions

        source = RealtimeClient(settings.endpoint, settings.project, key=settings.key, session=settings.session,
                                ping_interval=5.0)
        rest = RestActions(settings.endpoint, settings.project, settings.key, settings.session)
        who = "key" if settings.key else ("session" if settings.session else "guest")
        config = MonitorConfig(settings.endpoint, settings.project, who, subscriptions, since=since, buffer=buffer)
        return cls(config, source, rest, theme=theme)

    @property
    def monitor(self) -> MonitorScreen:
        return self.get_screen("monitor")  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.install_screen(MonitorScreen(self.config, self.source, self.rest, self.clock, self.wall), "monitor")
        self.push_screen("monitor")
        if not self.is_headless:
            self.call_after_refresh(self._freeze)
        if self.rest is not None and self.config.who == "session":
            self.run_worker(self._whoami, thread=True, group="rest")

    def _freeze(self) -> None:
        """The objects made so far (Textual, the CSS, the widgets) live as long as the app: move
        them out of the collector's sight, so that the full collections a stream of events
        triggers every few seconds scan only what came since. Not in headless runs (tests),
        where many apps come and go in one process."""
        gc.collect()
        gc.freeze()
        self._frozen = True

    def on_unmount(self) -> None:
        if getattr(self, "_frozen", False):
            gc.unfreeze()

    def _whoami(self) -> None:
        """Name the signed-in user (a session from the profile) in the header and the presence pane."""
        from rtcli.errors import RtcliError

        account: dict | None
        try:
            account = self.rest.account()
            who = f"user {account.get('name') or account.get('email') or account.get('$id')}"
        except RtcliError:
            account, who = None, "guest (session not valid)"
        self.call_from_thread(self.monitor.set_account, account, who)

    async def action_quit(self) -> None:
        await self.source.close()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, MonitorScreen):
            for title, help_text, action in COMMANDS:
                yield SystemCommand(title, help_text, lambda a=action: self.run_action(a, screen))
