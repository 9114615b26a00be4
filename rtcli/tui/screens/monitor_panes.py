"""Where the monitor's panes go (``rtcli.tui.layout.pane_shape``): from 120 columns on the detail
pane sits to the right of the table and the presence pane under both; below 120 the detail pane
goes under the table, beside the presence pane when that is shown. ``b``, ``d`` and ``P`` show or
hide the subscriptions panel, the detail pane and the presence pane (``P`` is then the user's
choice at every width); ``f`` shows the selected event full screen. The screen holds one
``Panes``; the CSS (app.tcss) draws each shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Input

from rtcli.tui.layout import Shape, pane_shape

if TYPE_CHECKING:
    from rtcli.tui.screens.monitor import MonitorScreen

WIDE = 120


class Panes:
    def __init__(self, screen: MonitorScreen) -> None:
        self.screen = screen
        self.presences_choice: bool | None = None  # P: the user's choice, else by width

    def relayout(self) -> None:
        """Place the panes for the width and what is shown."""
        screen = self.screen
        wide = screen.size.width >= WIDE
        presences = self.presences_choice if self.presences_choice is not None else wide
        shape = pane_shape(wide, screen.detail.display, presences)
        for each in Shape:  # the CSS classes -side, -split, -stack
            screen.set_class(each is shape, f"-{each.value}")
        screen.set_class(not wide, "-narrow")
        screen.set_class(wide, "-wide")
        pane = screen.presence_pane
        if pane.display != presences:
            pane.display = presences
            screen.call_after_refresh(screen.presence.refresh_pane)

    def back(self) -> None:
        """Escape: out of full screen, or from the filter line back to the table."""
        screen = self.screen
        if screen.maximized is not None:
            self.full_detail()
        elif isinstance(screen.focused, Input):
            screen.table.focus()

    def full_detail(self) -> None:
        """The selected event full screen (every event name and channel); again or escape: back."""
        screen = self.screen
        detail = screen.detail
        if screen.maximized is detail:
            screen.minimize()
            detail.set_full(False)
            screen.table.focus()
            return
        detail.display = True
        detail.set_full(True)
        screen.maximize(detail, container=False)
        detail.focus()

    def toggle_detail(self) -> None:
        detail = self.screen.detail
        detail.display = not detail.display
        self.relayout()

    def toggle_sidebar(self) -> None:
        sidebar = self.screen.query_one("#sidebar")
        sidebar.display = not sidebar.display
        self.screen.refresh_side()

    def toggle_presences(self) -> None:
        """Show or hide the presence pane; from then on the choice holds at every width."""
        self.presences_choice = not self.screen.presence_pane.display
        self.relayout()
