"""Modal forms: add a subscription, create a row, run a function, a one-line prompt, and a
yes/no confirmation.

Each form dismisses with a dict of validated values, or None when cancelled (escape). Validation
errors stay on the form, in red under the fields. Enter in a one-line field submits; in a
multi-line field ctrl+s submits; the form's footer says so.

A form given a ``send`` (a blocking call, e.g. a REST request) runs it in a thread worker when
submitted and stays open until it succeeds: a server error is shown on the form with the input
kept, so it can be corrected and sent again. It then dismisses with ``{**values, "result": …}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static, TextArea

from rtcli.errors import RtcliError
from rtcli.tui.parse import parse_channels, parse_json_object, parse_query

Send = Callable[[dict[str, Any]], Any]


class Dialog(VerticalScroll, can_focus=False):
    """A form's box: it scrolls when the terminal is short, and leaves the focus to the fields."""


class FormScreen(ModalScreen[dict[str, Any] | None]):
    """A titled dialog with fields, an error line and OK / Cancel. Subclasses give ``fields()``
    and ``values()`` (which raises ValueError with a message for people)."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]
    TITLE = ""
    SUBMIT = "OK"
    send: Send | None = None
    busy = False

    def compose(self) -> ComposeResult:
        with Dialog(classes="dialog") as dialog:
            dialog.border_title = self.TITLE
            yield from self.fields()
            yield Static("", classes="form-error", id="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.SUBMIT, variant="primary", id="submit", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer(compact=True, show_command_palette=False)

    def fields(self) -> ComposeResult:
        yield from ()

    def values(self) -> dict[str, Any]:
        return {}

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        if self.busy:
            return
        try:
            values = self.values()
        except ValueError as e:
            self.query_one("#form-error", Static).update(str(e))
            return
        if self.send is None:
            self.dismiss(values)
            return
        self.set_busy(True, "sending…")
        self._send(values)

    def set_busy(self, busy: bool, note: str = "") -> None:
        """While a send runs, the fields and the button are disabled (the input stays)."""
        self.busy = busy
        self.query_one("#form-error", Static).update(note)
        for widget in self.query("Input, TextArea, Checkbox"):
            widget.disabled = busy
        self.query_one("#submit").disabled = busy

    @work(thread=True, exclusive=True, group="form")
    def _send(self, values: dict[str, Any]) -> None:
        try:
            result = self.send(values)  # type: ignore[misc]
        except (RtcliError, OSError) as e:
            self.app.call_from_thread(self.failed, str(e))
            return
        self.app.call_from_thread(self.succeeded, values, result)

    def succeeded(self, values: dict[str, Any], result: Any) -> None:
        self.dismiss({**values, "result": result})

    def failed(self, message: str) -> None:
        self.set_busy(False)
        self.query_one("#form-error", Static).update(f"{self.SUBMIT.lower()} failed: {message}")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def text(self, widget_id: str) -> str:
        widget = self.query_one(f"#{widget_id}")
        return (widget.text if isinstance(widget, TextArea) else widget.value).strip()  # type: ignore[attr-defined]


class AddSubscriptionScreen(FormScreen):
    TITLE = "Add a subscription"
    SUBMIT = "Subscribe"

    def fields(self) -> ComposeResult:
        yield Label("Channels (spaces or commas between them)")
        yield Input(placeholder="e.g. rows, or tablesdb.DB.tables.TABLE.rows", id="channels", compact=True)
        yield Label("Queries, one per line: n>=2, status=open, or Query JSON (optional)")
        yield TextArea(id="queries", classes="short", compact=True)

    def values(self) -> dict[str, Any]:
        channels = parse_channels(self.text("channels"))
        if not channels:
            raise ValueError("give at least one channel, e.g. rows or tablesdb.DB.tables.T.rows")
        queries = [parse_query(line) for line in self.text("queries").splitlines() if line.strip()]
        return {"channels": channels, "queries": queries}


class CreateRowScreen(FormScreen):
    TITLE = "Create a row"
    SUBMIT = "Create"

    def __init__(self, database: str = "", table: str = "", send: Send | None = None) -> None:
        super().__init__()
        self.database, self.table = database, table
        self.send = send

    def fields(self) -> ComposeResult:
        with Horizontal(classes="pair"):
            with Vertical():
                yield Label("Database")
                yield Input(self.database, placeholder="database ID", id="db", compact=True)
            with Vertical():
                yield Label("Table")
                yield Input(self.table, placeholder="table ID", id="table", compact=True)
        yield Label("Row ID (empty: a new unique ID)")
        yield Input(placeholder="(a new unique ID)", id="row-id", compact=True)
        yield Label("Data (a JSON object)")
        yield TextArea('{\n  \n}', id="data", compact=True)

    def on_mount(self) -> None:
        if self.database and self.table:
            area = self.query_one("#data", TextArea)
            area.focus()
            area.move_cursor((1, 2))

    def values(self) -> dict[str, Any]:
        db, table = self.text("db"), self.text("table")
        if not db or not table:
            raise ValueError("the database and table IDs are required")
        data = parse_json_object(self.text("data"), "data")
        return {"db": db, "table": table, "row_id": self.text("row-id") or None, "data": data}


class RunFunctionScreen(FormScreen):
    TITLE = "Run a function"
    SUBMIT = "Run"

    def __init__(self, send: Send | None = None) -> None:
        super().__init__()
        self.send = send

    def fields(self) -> ComposeResult:
        yield Label("Function ID")
        yield Input(placeholder="function ID", id="function", compact=True)
        yield Label("Body (sent to the function's stdin)")
        yield TextArea(id="body", classes="short", compact=True)
        yield Checkbox("Asynchronous (do not wait for the result)", id="async")

    def values(self) -> dict[str, Any]:
        fid = self.text("function")
        if not fid:
            raise ValueError("the function ID is required")
        body = self.query_one("#body", TextArea).text
        return {"function": fid, "body": body, "async": self.query_one("#async", Checkbox).value}


class PromptScreen(FormScreen):
    """One line of text (e.g. a file name); dismisses with ``{"value": text}``."""

    def __init__(self, title: str, label: str, value: str = "", submit: str = "OK") -> None:
        super().__init__()
        self.title_text, self.label, self.value, self.submit_text = title, label, value, submit

    def compose(self) -> ComposeResult:
        self.TITLE, self.SUBMIT = self.title_text, self.submit_text
        yield from super().compose()

    def fields(self) -> ComposeResult:
        yield Label(self.label)
        yield Input(self.value, id="value", compact=True)

    def values(self) -> dict[str, Any]:
        value = self.text("value")
        if not value:
            raise ValueError("this cannot be empty")
        return {"value": value}


class ConfirmScreen(ModalScreen[bool]):
    """A question with yes (y) and no (n, escape; enter on the focused No); dismisses with True or False."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.title_text, self.question, self.yes = title, question, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog confirm") as dialog:
            dialog.border_title = self.title_text
            yield Static(self.question, markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes", compact=True)
                yield Button("No", id="no", compact=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
