"""The monitor's actions that reach outside the screen: copy and export events, and the REST
actions (create a row, upload a file, run a function), each in a worker thread so the screen
never waits. A mixin of MonitorScreen, whose ``table``, ``view``, ``rest`` and ``app`` it uses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from textual import work

from rtcli.errors import RtcliError
from rtcli.tui.model import export_lines
from rtcli.tui.parse import row_target
from rtcli.tui.screens.forms import CreateRowScreen, PromptScreen, RunFunctionScreen
from rtcli.tui.screens.upload import UploadScreen


class MonitorActions:
    # --- copy and export ---------------------------------------------------------------------

    def action_copy_event(self) -> None:
        record = self.table.selected
        if record is None:
            self.notify("no event selected", severity="warning")
            return
        self.app.copy_to_clipboard(record.json())
        self.notify(f"copied the event's JSON ({record.action} {record.rid or record.channel})")

    def action_export(self) -> None:
        default = f"rtcli-monitor-{datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl"

        def done(values: dict[str, Any] | None) -> None:
            if values:
                # The records are taken now (the view moves on); encoding and writing happen in
                # a thread, so that 10,000 events do not stall the screen.
                self._export(Path(values["value"]).expanduser(), list(self.view.shown()))

        self.app.push_screen(PromptScreen("Export to JSON lines",
                                          f"File for the {self.view.visible:,} events shown", default, "Export"), done)

    @work(thread=True, group="export")
    def _export(self, path: Path, records: list) -> None:
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(export_lines(records))
        except OSError as e:
            self.app.call_from_thread(self.notify, f"cannot write {path}: {e.strerror}", severity="error")
            return
        n = len(records)
        self.app.call_from_thread(self.notify, f"exported {n:,} event{'s' if n != 1 else ''} to {path}")

    # --- REST actions --------------------------------------------------------------------------

    def _need_rest(self) -> bool:
        if self.rest is None:
            self.notify("not available in this session", severity="warning")
        return self.rest is not None

    def action_create_row(self) -> None:
        if not self._need_rest():
            return
        db, table = row_target(self.table.selected)

        def done(values: dict[str, Any] | None) -> None:
            if values:
                self._create_row(values)

        self.app.push_screen(CreateRowScreen(db, table), done)

    @work(thread=True, group="rest")
    def _create_row(self, values: dict[str, Any]) -> None:
        try:
            row = self.rest.create_row(values["db"], values["table"], values["data"], values["row_id"])
        except RtcliError as e:
            self.app.call_from_thread(self.notify, f"create row failed: {e}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"created row {row.get('$id')} in {values['db']}/{values['table']}")

    def action_upload(self) -> None:
        if not self._need_rest():
            return

        def done(values: dict[str, Any] | None) -> None:
            if values:
                f = values["file"]
                self.notify(f"uploaded {f.get('name')} ({f.get('sizeOriginal', 0):,} bytes) as {f.get('$id')}")

        self.app.push_screen(UploadScreen(lambda b, p, fid, progress: self.rest.upload_file(b, p, fid, progress)),
                             done)

    def action_run_function(self) -> None:
        if not self._need_rest():
            return

        def done(values: dict[str, Any] | None) -> None:
            if values:
                self._run_function(values)

        self.app.push_screen(RunFunctionScreen(), done)

    @work(thread=True, group="rest")
    def _run_function(self, values: dict[str, Any]) -> None:
        try:
            ex = self.rest.run_function(values["function"], values["body"], values["async"])
        except RtcliError as e:
            self.app.call_from_thread(self.notify, f"run function failed: {e}", severity="error")
            return
        body = str(ex.get("responseBody") or "").strip().splitlines()
        first = f": {body[0][:60]}" if body else ""
        code = f" {ex.get('responseStatusCode')}" if ex.get("responseStatusCode") else ""
        self.app.call_from_thread(self.notify, f"execution {ex.get('$id')} {ex.get('status')}{code}{first}")
