"""Scrolling for the Line API widgets (the event table, the detail pane): they draw only the lines
on screen, and their scrollable size changes with their content, often (with every batch, with
every selected event)."""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widget import Widget


def set_virtual_size(widget: ScrollView, size: Size) -> None:
    """Give ``widget`` a new scrollable size. Assigning ``virtual_size`` would lay out the whole
    screen; only the scrollbar changes, so update it alone, and lay out only when the scrollbar
    appears or disappears (the width left for the lines changes then)."""
    if size == widget.virtual_size:
        return
    had_scrollbar = widget.show_vertical_scrollbar
    widget.set_reactive(Widget.virtual_size, size)
    widget._scroll_update(size)
    if widget.show_vertical_scrollbar != had_scrollbar:
        widget.refresh(layout=True)
