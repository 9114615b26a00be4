"""Rendering: rich tables for people, one JSON document for machines, errors on stderr.

Contract: with ``--json`` stdout carries exactly the server's JSON response (one document per
line, nothing else); every diagnostic, warning and error goes to stderr. An error is one line,
``error: <message> (<type>, <status>)``, followed by exit code 1 (2 for usage errors, which
click reports itself).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import typer

from rtcli.errors import AppwriteError, RtcliError


def _color(stream: Any) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _paint(text: str, code: str, stream: Any) -> str:
    return f"\033[{code}m{text}\033[0m" if _color(stream) else text


def emit_json(value: Any) -> None:
    """One JSON document on one line of stdout, flushed (a reader may be waiting on it)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def info(message: str) -> None:
    """A progress or status line on stderr (dim on a terminal)."""
    sys.stderr.write(_paint(message, "2", sys.stderr) + "\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    sys.stderr.write(_paint("warning:", "33", sys.stderr) + f" {message}\n")
    sys.stderr.flush()


def error(message: str) -> None:
    sys.stderr.write(_paint("error:", "1;31", sys.stderr) + f" {message}\n")
    sys.stderr.flush()


def describe_error(exc: BaseException, endpoint: str | None = None) -> str:
    """The one-line text for an error; names the endpoint and suggests `rtcli serve` when unreachable."""
    if isinstance(exc, AppwriteError):
        return f"{exc.message} ({exc.type}, {exc.code})"
    reason = getattr(exc, "reason", None)
    target = getattr(exc, "endpoint", None) or endpoint
    # A TLS handshake answered in plain HTTP: the server is running, the scheme is wrong.
    plain = {"https://": "http://", "wss://": "ws://"}
    scheme = next((prefix for prefix in plain if target and target.startswith(prefix)), None)
    if reason is not None and target and scheme and "wrong version number" in str(reason).lower():
        return (f"cannot reach {target}: the server there speaks plain HTTP, not HTTPS; "
                f"use {plain[scheme]}{target[len(scheme):]} (--endpoint / RTCLI_ENDPOINT)")
    if reason is not None and target:
        return (f"cannot reach {target} ({reason}). Is the server running? "
                f"Start one with `rtcli serve`, or point --endpoint / RTCLI_ENDPOINT elsewhere.")
    return str(exc) or type(exc).__name__


def fail(exc: RtcliError | str, code: int = 1) -> NoReturn:
    """Print the error on stderr and exit with ``code``."""
    error(exc if isinstance(exc, str) else describe_error(exc))
    raise typer.Exit(code)


# --- pretty rendering -------------------------------------------------------------------------


def cell(value: Any) -> str:
    """A value as shown in a table cell: JSON for containers and null/bools, text otherwise."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def display(value: Any) -> str:
    """A table cell: like ``cell``, but a list of strings (permissions, enum elements) reads as
    ``read("any"), update("users")`` rather than escaped JSON."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return cell(value)


def console(**options: Any) -> Any:
    """A rich Console on stdout whose broken pipe is the reader's choice, not an error: rich
    would exit 1; this raises BrokenPipeError, which the root command turns into exit 0."""
    from rich.console import Console  # lazy: only pretty output needs rich

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Console(**options)


def _console() -> Any:
    return console(highlight=False, soft_wrap=False)


def plain() -> bool:
    """stdout is not a terminal (a pipe, a file): tables become tab-separated lines, one per
    item after a header line, never wrapped, as gh prints them, for cut, sort and awk; their
    captions go to stderr. ``--json`` remains the exact form."""
    return not sys.stdout.isatty()


def _tsv(values: Iterable[str]) -> str:
    # A tab or a line break inside a value would start a new column or line.
    return "\t".join(v.replace("\t", " ").replace("\r", " ").replace("\n", " ") for v in values) + "\n"


def quiet_stdout() -> None:
    """After a broken pipe (``rtcli … | head -1``): point stdout at /dev/null, so that the
    interpreter's final flush does not fail too."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def stdout_is_pipe() -> bool:
    """stdout is a pipe or FIFO, whose reader may go away (``| head -1``)."""
    import stat

    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError):  # no file descriptor (replaced or closed stdout)
        return False


def stdout_reader_gone() -> bool:
    """stdout is a pipe nobody reads any more: the next write would fail with a broken pipe.
    Polled with no events asked for, a pipe whose read end is closed still reports POLLERR
    (Linux) or POLLHUP (the BSDs, macOS). Where poll is missing, never."""
    import select

    if not hasattr(select, "poll"):
        return False
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)
        return any(mask & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, mask in poller.poll(0))
    except (OSError, ValueError):
        return False


def print_table(items: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None,
                caption: str | None = None) -> None:
    if plain():
        sys.stdout.write(_tsv(columns))
        for item in items:
            sys.stdout.write(_tsv(display(item.get(name)) if name in item else "" for name in columns))
        sys.stdout.flush()
        if caption:
            info(caption)
        return
    from rich.table import Table

    table = Table(title=title, caption=caption, show_lines=False, header_style="bold")
    for name in columns:
        table.add_column(name, overflow="fold")
    for item in items:
        table.add_row(*(display(item.get(name)) if name in item else "" for name in columns))
    _console().print(table)


def print_record(record: dict[str, Any], title: str | None = None) -> None:
    """One resource as a two-column key/value table (``key<TAB>value`` lines when ``plain()``)."""
    if plain():
        for key, value in record.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                value = f"{len(value)} item(s)"
            sys.stdout.write(_tsv((key, display(value))))
        sys.stdout.flush()
        return
    from rich.table import Table

    table = Table(title=title, show_header=False, box=None, padding=(0, 2))
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in record.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            value = f"{len(value)} item(s)"  # nested lists (a table's columns) get their own command
        table.add_row(key, display(value))
    _console().print(table)


def row_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Columns for a list of rows: $id, then user columns in first-seen order, then $updatedAt."""
    cols: dict[str, None] = {"$id": None}
    for row in rows:
        for key in row:
            if not key.startswith("$"):
                cols.setdefault(key, None)
    cols["$updatedAt"] = None
    return list(cols)


# Columns shown for each kind of list; the JSON output always has everything.
LIST_COLUMNS: dict[str, list[str]] = {
    "databases": ["$id", "name", "enabled", "$createdAt"],
    "tables": ["$id", "name", "rowSecurity", "enabled", "$permissions", "$createdAt"],
    "columns": ["key", "type", "status", "required", "array", "size", "default", "elements"],
}


def render(value: Any, as_json: bool, *, kind: str | None = None, title: str | None = None) -> None:
    """Print a response: raw JSON with ``as_json``, else a table (lists) or a record (one resource).

    ``kind`` is the list key (``rows``, ``tables``, …) for list responses ``{total, <kind>: [...]}``.
    """
    if as_json:
        if value is not None:
            emit_json(value)
        return
    if value is None:
        return
    if kind and isinstance(value, dict) and isinstance(value.get(kind), list):
        items = value[kind]
        columns = row_columns(items) if kind == "rows" else LIST_COLUMNS.get(kind) or sorted(
            {k for item in items for k in item})
        total = value.get("total", len(items))
        print_table(items, columns, title=title, caption=f"{len(items)} of {total} {kind}")
        return
    if isinstance(value, dict):
        print_record(value, title=title)
        return
    _console().print(cell(value))


def render_list(value: dict, as_json: bool, kind: str, columns: Sequence[str],
                row: Callable[[dict], dict] | None = None) -> None:
    """A list response ``{total, <kind>: [...]}``: raw JSON with ``as_json``, else a table of
    ``columns`` (each item through ``row`` first, if given) captioned with the counts."""
    if as_json:
        emit_json(value)
        return
    items = value.get(kind) or []
    if row is not None:
        items = [row(item) for item in items]
    print_table(items, columns, caption=f"{len(items)} of {value.get('total', len(items))} {kind}")


def done(message: str, as_json: bool) -> None:
    """Confirmation of an action with no response body (deletes): stdout for people, silent in JSON mode."""
    if not as_json:
        sys.stdout.write(message + "\n")
