"""Upload a file: bucket, path and optional file ID, then a progress bar while it uploads.

The upload runs in a thread worker (it is blocking httpx); progress comes back through
``call_from_thread``. The screen dismisses with ``{"file": <file model>}`` once the server has
the whole file, or stays open with the error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.widgets import Input, Label, ProgressBar, Static

from rtcli.errors import RtcliError
from rtcli.tui.screens.forms import FormScreen

Uploader = Callable[[str, str, "str | None", Callable[[int, int], None]], dict]


class UploadScreen(FormScreen):
    TITLE = "Upload a file"
    SUBMIT = "Upload"

    def __init__(self, upload: Uploader, bucket: str = "") -> None:
        super().__init__()
        self.upload = upload
        self.bucket = bucket
        self.busy = False

    def fields(self) -> ComposeResult:
        yield Label("Bucket ID")
        yield Input(self.bucket, placeholder="bucket ID", id="bucket", compact=True)
        yield Label("File path")
        yield Input(placeholder="path to a file", id="path", compact=True)
        yield Label("File ID (empty: a new unique ID)")
        yield Input(placeholder="(a new unique ID)", id="file-id", compact=True)
        yield ProgressBar(total=None, show_eta=False, id="progress")
        yield Static("", id="progress-text", markup=False)

    def values(self) -> dict[str, Any]:
        bucket, path = self.text("bucket"), self.text("path")
        if not bucket:
            raise ValueError("the bucket ID is required")
        if not path:
            raise ValueError("the file path is required")
        p = Path(path).expanduser()
        if not p.is_file():
            raise ValueError(f"no such file: {p}")
        return {"bucket": bucket, "path": str(p), "file_id": self.text("file-id") or None}

    def action_submit(self) -> None:
        if self.busy:
            return
        try:
            values = self.values()
        except ValueError as e:
            self.query_one("#form-error", Static).update(str(e))
            return
        self.busy = True
        self.query_one("#form-error", Static).update("")
        for widget in self.query(Input):
            widget.disabled = True
        self.query_one("#submit").disabled = True
        self._run(values)

    @work(thread=True, exclusive=True, group="upload")
    def _run(self, values: dict[str, Any]) -> None:
        try:
            model = self.upload(values["bucket"], values["path"], values["file_id"], self._progress)
        except (RtcliError, OSError) as e:
            self.app.call_from_thread(self._failed, str(e))
            return
        self.app.call_from_thread(self.dismiss, {"file": model})

    def _progress(self, sent: int, total: int) -> None:
        self.app.call_from_thread(self._show_progress, sent, total)

    def _show_progress(self, sent: int, total: int) -> None:
        self.query_one("#progress", ProgressBar).update(total=total, progress=sent)
        self.query_one("#progress-text", Static).update(f"{sent:,} of {total:,} bytes")

    def _failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#form-error", Static).update(f"upload failed: {message}")
        for widget in self.query(Input):
            widget.disabled = False
        self.query_one("#submit").disabled = False
