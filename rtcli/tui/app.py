"""``rtcli monitor``'s Textual app: the live event stream of one endpoint and project.

The app is the composition root of the TUI: it takes a realtime source (a ``RealtimeClient``,
or a scripted one in snapshot tests and benchmarks), the REST actions and a clock, pushes the
``MonitorScreen`` and adds the monitor's commands to the command palette. ``MonitorApp.connect``
builds the real thing from resolved CLI settings.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.screen import Screen

from rtcli.tui.feed import Source
from rtcli.tui.model import DEFAULT_BUFFER
from rtcli.tui.screens.monitor import MonitorConfig, MonitorScreen

if TYPE_CHECKING:
    from rtcli.client.config import Settings
    from rtcli.tui.rest import RestActions

# A frame of a flood makes thousands of container objects that die with it (Textual's strips and
# their caches, in reference cycles). With the default thresholds (700, 10, 10) the young
# generation is collected several times a frame, what is alive then is promoted, and full
# collections, which scan the whole ring buffer (10-40 ms that a key press waits for), follow
# every second at 1,000 events/s. With these, most of a frame's objects die young and full
# collections come every few seconds (bench_monitor.py, gc pauses: 9 full collections in 10 s -> 1).
GC_THRESHOLDS = (2_000, 10, 25)

# (title, key, help, action) for the command palette; "subs." actions are the subscriptions panel's
# (on its highlighted subscription), the others the screen's.
COMMANDS = (
    ("Create row", "n", "Create a row from a form (database, table, JSON data)", "create_row"),
    ("Upload file", "u", "Upload a file to a storage bucket, with progress", "upload"),
    ("Run function", "r", "Run a function with a request body", "run_function"),
    ("Explain the selected event", "w", "Did it reach a key, a guest or a user, on which channel and queries: "
     "the server's verdict", "explain"),
    ("Add subscription", "a", "Subscribe to more channels, with optional queries", "add_subscription"),
    ("Remove subscription", "x", "Unsubscribe the highlighted subscription (asks first)", "subs.remove"),
    ("Pause or resume subscription", "m", "Unsubscribe the highlighted subscription but keep it listed",
     "subs.pause"),
    ("Pause or resume the table", "p", "Stop or restart showing new events (they are still counted)",
     "toggle_pause"),
    ("Follow the newest events", "end", "Jump to the end of the table and follow it", "follow"),
    ("Expand the selected event", "enter", "Its fields under its row in the table", "expand"),
    ("Full screen event", "f", "The selected event full screen, every event name and channel", "full_detail"),
    ("Copy event JSON", "c", "Copy the selected event's JSON to the clipboard", "copy_event"),
    ("Export to JSON lines", "e", "Write the events shown (filtered) to a file", "export"),
    ("Filter", "/", "Focus the filter: words, action:delete, key=value, \"a phrase\", sub:NAME, globs, -exclude",
     "focus_filter"),
    ("Toggle detail pane", "d", "Show or hide the selected event's detail", "toggle_detail"),
    ("Toggle subscriptions panel", "b", "Show or hide the subscriptions panel", "toggle_sidebar"),
    ("Toggle presence pane", "P", "Show or hide who is present (presences: status, source, metadata), live",
     "toggle_presences"),
    ("Save a screenshot", "S", "An SVG of the screen, in the current directory", "app.screenshot"),
    ("Help", "?", "Keys, filter syntax and states", "help"),
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
        self._thresholds: tuple[int, int, int] | None = None  # the collector's, while frozen
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
        triggers every few seconds scan only what came since. And a larger young generation
        (``GC_THRESHOLDS``). Not in headless runs (tests), where many apps come and go in one
        process."""
        gc.collect()
        gc.freeze()
        self._thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)

    def on_unmount(self) -> None:
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
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

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen in the current directory (not the Downloads folder, which
        may not exist), and say where."""
        try:
            saved = self.save_screenshot(filename, path or os.getcwd())
        except OSError as e:
            self.notify(f"cannot save the screenshot: {e.strerror or e}", severity="error")
            return
        self.notify(f"screenshot saved to {saved}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":  # ours, below, saves where the user is
                yield command
        if isinstance(screen, MonitorScreen):
            for title, key, help_text, action in COMMANDS:
                yield SystemCommand(f"{title}  ({key})", help_text, lambda a=action: self._palette(screen, a))

    def _palette(self, screen: MonitorScreen, action: str) -> Awaitable[bool]:
        if action.startswith("subs."):
            return self.run_action(action.removeprefix("subs."), screen.sublist)
        if action == "expand":
            return self.run_action("expand", screen.table)
        if action.startswith("app."):
            return self.run_action(action.removeprefix("app."))
        return self.run_action(action, screen)
