"""The header line: where the monitor is connected, as whom, the connection state and the ping."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static


class StatusHeader(Horizontal):
    DEFAULT_CSS = """
    StatusHeader {
        dock: top;
        height: 1;
        background: $panel;
        & > #header-brand { width: auto; padding: 0 1; text-style: bold; color: $text-accent; }
        & > #header-who { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; padding-left: 1; }
        & > #header-state { width: auto; padding: 0 1 0 0; }
    }
    """

    def __init__(self, endpoint: str, project: str, who: str) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.project = project
        self.who = who
        self.state = "connecting"
        self.detail = ""
        self.rtt: float | None = None

    def compose(self) -> ComposeResult:
        yield Static("rtcli monitor", id="header-brand")
        yield Static(self._who(), id="header-who")
        yield Static(self._state(), id="header-state")

    def _who(self) -> Content:
        endpoint = self.endpoint.removeprefix("http://").removeprefix("https://")
        return Content.assemble(endpoint, ("  project ", "$text-muted"), self.project, ("  as ", "$text-muted"),
                                self.who)

    def _state(self) -> Content:
        marks = {"connected": ("●", "$text-success"), "connecting": ("○", "$text-warning"),
                 "reconnecting": ("↻", "$text-warning"), "failed": ("✖", "$text-error"),
                 "closed": ("■", "$text-muted")}
        mark, style = marks.get(self.state, ("?", ""))
        text = self.state + (f" {self.detail}" if self.detail else "")
        parts: list = [(f"{mark} {text}", style)]
        if self.rtt is not None and self.state == "connected":  # an old round trip is not a live one
            parts += ["  ", ("rtt ", "$text-muted"), f"{self.rtt * 1000:.0f} ms"]
        return Content.assemble(*parts)

    def set_who(self, who: str) -> None:
        self.who = who
        self.query_one("#header-who", Static).update(self._who())

    def set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        self.query_one("#header-state", Static).update(self._state())

    def set_rtt(self, rtt: float | None) -> None:
        self.rtt = rtt
        self.query_one("#header-state", Static).update(self._state())
