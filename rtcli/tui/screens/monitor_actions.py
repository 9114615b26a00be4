"""The monitor's actions that reach outside the screen: copy and export events, and the REST
actions (create a row, upload a file, run a function, explain an event). Blocking work runs in
thread workers, so the screen never waits; a form that sends a request stays open, with its
input, when the server refuses it.

The screen holds one ``Actions`` and calls it from its ``action_*`` methods."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtcli.errors import RtcliError
from rtcli.tui.describe import failed_checks, telling_events
from rtcli.tui.parse import row_target
from rtcli.tui.records import EventRecord, export_lines
from rtcli.tui.screens.explain import ExplainScreen
from rtcli.tui.screens.forms import CreateRowScreen, PromptScreen, RunFunctionScreen
from rtcli.tui.screens.upload import UploadScreen

if TYPE_CHECKING:
    from rtcli.tui.screens.monitor import MonitorScreen


WHY_KEPT = 256  # server answers kept for greyed events (one explain request per event and subscription)


class Actions:
    def __init__(self, screen: MonitorScreen) -> None:
        self.screen = screen
        self._why: dict[tuple[int, str], list[str] | None] = {}

    @property
    def rest(self):
        return self.screen.rest

    def notify(self, message: str, **kw: Any) -> None:
        self.screen.notify(message, **kw)

    def _from_thread(self, message: str, **kw: Any) -> None:
        self.screen.app.call_from_thread(self.screen.notify, message, **kw)

    def _event(self) -> EventRecord | None:
        record = self.screen.table.selected
        if record is None or record.is_marker:
            self.notify("no event selected", severity="warning")
            return None
        return record

    # --- copy and export ---------------------------------------------------------------------

    def copy_event(self) -> None:
        record = self._event()
        if record is None:
            return
        self.screen.app.copy_to_clipboard(record.json())
        self.notify(f"copied the event's JSON ({record.action} {record.rid or record.channel})")

    def export(self) -> None:
        default = f"rtcli-monitor-{datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl"
        view = self.screen.view

        def done(values: dict[str, Any] | None) -> None:
            if values:
                # The records are taken now (the view moves on); encoding and writing happen in
                # a thread, so that 10,000 events do not stall the screen.
                records = list(view.shown())
                path = Path(values["value"]).expanduser()
                self.screen.run_worker(lambda: self._export(path, records), thread=True, group="export")

        self.screen.app.push_screen(PromptScreen("Export to JSON lines", f"File for the {view.visible:,} events shown",
                                                 default, "Export"), done)

    def _export(self, path: Path, records: list[EventRecord]) -> None:
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(export_lines(records))
        except OSError as e:
            self._from_thread(f"cannot write {path}: {e.strerror}", severity="error")
            return
        n = sum(1 for r in records if not r.is_marker)
        self._from_thread(f"exported {n:,} event{'s' if n != 1 else ''} to {path}")

    # --- REST actions --------------------------------------------------------------------------

    def _need_rest(self) -> bool:
        if self.rest is None:
            self.notify("not available in this session", severity="warning")
        return self.rest is not None

    def create_row(self) -> None:
        if not self._need_rest():
            return
        db, table = row_target(self.screen.table.selected)
        rest = self.rest

        def send(values: dict[str, Any]) -> dict:
            return rest.create_row(values["db"], values["table"], values["data"], values["row_id"])

        def done(values: dict[str, Any] | None) -> None:
            if values:
                self.notify(f"created row {values['result'].get('$id')} in {values['db']}/{values['table']}")

        self.screen.app.push_screen(CreateRowScreen(db, table, send=send), done)

    def upload(self) -> None:
        if not self._need_rest():
            return
        rest = self.rest

        def done(values: dict[str, Any] | None) -> None:
            if values:
                f = values["file"]
                self.notify(f"uploaded {f.get('name')} ({f.get('sizeOriginal', 0):,} bytes) as {f.get('$id')}")

        self.screen.app.push_screen(UploadScreen(lambda b, p, fid, progress: rest.upload_file(b, p, fid, progress)),
                                    done)

    def run_function(self) -> None:
        if not self._need_rest():
            return
        rest = self.rest

        def send(values: dict[str, Any]) -> dict:
            return rest.run_function(values["function"], values["body"], values["async"])

        def done(values: dict[str, Any] | None) -> None:
            if values:
                ex = values["result"]
                body = str(ex.get("responseBody") or "").strip().splitlines()
                first = f": {body[0][:60]}" if body else ""
                code = f" {ex.get('responseStatusCode')}" if ex.get("responseStatusCode") else ""
                self.notify(f"execution {ex.get('$id')} {ex.get('status')}{code}{first}")

        self.screen.app.push_screen(RunFunctionScreen(send=send), done)

    def why(self, record: EventRecord) -> list[str] | None:
        """What the server says kept ``record`` from the subscription the table is filtered to (its
        failed explain checks), asked once in a thread; None until it answers, or when this
        monitor cannot ask (explain needs an API key)."""
        screen = self.screen
        sub = screen.subs.subscription_of(record, screen.view.filter)
        if sub is None or self.rest is None or screen.config.who != "key" or not record.cursor:
            return None
        key = (record.seq, sub.id)
        if key not in self._why:
            if len(self._why) >= WHY_KEPT:
                self._why.clear()
            self._why[key] = None
            rest, cursor, channel, queries = self.rest, record.cursor, sub.channels[0], list(sub.queries)

            def ask() -> None:
                try:
                    result = rest.explain(cursor, key=True, channel=channel, queries=queries)
                except RtcliError as e:
                    reasons = [f"(could not ask: {e})"]
                else:
                    reasons = failed_checks(result) or ["(the server would deliver it now)"]
                screen.app.call_from_thread(self._answered, key, record, reasons)

            screen.run_worker(ask, thread=True, group="why")
        return self._why[key]

    def _answered(self, key: tuple[int, str], record: EventRecord, reasons: list[str]) -> None:
        self._why[key] = reasons
        if self.screen.detail.record is record:
            self.screen.detail.show(record, force=True)

    def explain_as(self) -> str:
        """Who to explain for at first: this monitor's identity (its user once known)."""
        if self.screen.config.who == "key":
            return "key"
        return self.screen.account_id or "guest"

    def explain(self) -> None:
        """Ask the server why the selected event did (or did not) reach a subscriber, prefilled
        with this monitor's identity and the subscription it came through or was left out of."""
        if not self._need_rest():
            return
        record = self._event()
        if record is None:
            return
        if not record.cursor:
            self.notify("this event has no cursor: the server keeps no log to explain it from", severity="warning")
            return
        screen = self.screen
        sub = screen.subs.subscription_of(record, screen.view.filter)
        rest = self.rest

        def send(values: dict[str, Any]) -> dict:
            return rest.explain(values["cursor"], user=values.get("user"), key=bool(values.get("key")),
                                channel=values.get("channel"), queries=values.get("queries"))

        names = telling_events(record.events)
        screen.app.push_screen(ExplainScreen(record.cursor, names[0] if names else record.action, send,
                                             who=self.explain_as(), channel=sub.channels[0] if sub else "",
                                             queries=sub.queries if sub else []))

