"""`rtcli bucket …` and `rtcli file …`: Storage buckets, uploads (chunked as the SDKs do), downloads.

stdout carries the results (a table, or with ``--json`` one JSON document per line: the File of
each upload, the server's response otherwise); progress bars and timings go to stderr, and only
when stderr is a terminal.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

import errno
import os
import re
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from rtcli.cli import args, output
from rtcli.cli.common import IdCommand, IdOpt, JsonOpt, PermissionOpt, QueryOpt, call, maybe, pick_new_id, want_json

if TYPE_CHECKING:
    from rtcli.client.storage import Storage

T = TypeVar("T")

bucket_app = typer.Typer(help="Storage buckets.", no_args_is_help=True)
file_app = typer.Typer(help="Files in a bucket: upload, download, list, get, delete.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bucket_app, name="bucket")
    app.add_typer(file_app, name="file")


def _call(ctx: typer.Context, fn: "Callable[[Storage], T]") -> T:
    """``common.call`` with the Storage service (errors: one line on stderr, exit 1)."""

    def run(tables: Any) -> T:
        from rtcli.client.storage import Storage

        return fn(Storage(tables.client))

    return call(ctx, run)


# --- sizes ------------------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.I)
_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_size(text: str) -> int:
    """``1048576``, ``500K``, ``10M``, ``10MiB``, ``1.5G`` -> bytes (K, M, G are powers of 1024)."""
    m = _SIZE.match(text)
    if not m or (m.group(3) and not m.group(2) and m.group(3).lower() != "b"):
        raise typer.BadParameter(f"{text!r} is not a size; use bytes or 500K, 10M, 1G", param_hint="--max-size")
    value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise typer.BadParameter("must be more than 0 bytes", param_hint="--max-size")
    return value


def human_size(n: Any) -> str:
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return output.cell(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def parse_extensions(values: list[str] | None) -> list[str] | None:
    """``-e png -e .JPG,gif`` -> ``["png", "jpg", "gif"]`` (no dots, lower case)."""
    if not values:
        return None
    return [e.strip().lstrip(".").lower() for v in values for e in v.split(",") if e.strip().lstrip(".")]


# --- rendering --------------------------------------------------------------------------------

FILE_COLUMNS = ["$id", "name", "size", "mimeType", "signature", "$createdAt"]
BUCKET_COLUMNS = ["$id", "name", "fileSecurity", "maximumFileSize", "allowedFileExtensions", "$permissions"]


def _file_row(f: dict) -> dict:
    return {**f, "size": human_size(f.get("sizeOriginal"))}


class _Quiet:
    """Progress for a stderr that is not a terminal: nothing to draw (and rich.progress not loaded)."""

    def __enter__(self) -> "_Quiet":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def advance(self, task: int, delta: float) -> None:
        pass

    def update(self, task: int, **kwargs: Any) -> None:
        pass

    def stop(self) -> None:
        pass


def _progress() -> Any:
    """A rich Progress bar per task on stderr, when stderr is a terminal (NO_COLOR and TERM=dumb
    respected by rich); otherwise nothing."""
    if not sys.stderr.isatty():
        return _Quiet()
    from rich.progress import (
        BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn,
    )

    from rich.console import Console
    from rich.text import Text

    class BinarySpeedColumn(TransferSpeedColumn):
        """The speed in the units of the sizes and of the summary line (MiB/s), where rich's
        own column uses decimal ones (MB/s)."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("?" if speed is None else f"{human_size(speed)}/s", style="progress.data.speed")

    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(binary_units=True),
                    BinarySpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True))


def _rate(size: int, seconds: float) -> str:
    return f"{human_size(size)} in {seconds:.2f} s, {human_size(size / max(seconds, 1e-9))}/s"


# --- buckets ----------------------------------------------------------------------------------

BucketArg = Annotated[str, typer.Argument(metavar="BUCKET", help="Bucket ID.", show_default=False)]
FileIdArg = Annotated[str, typer.Argument(metavar="FILE_ID", help="File ID.", show_default=False)]


@bucket_app.command("create", cls=IdCommand)
def bucket_create(
    ctx: typer.Context,
    bucket_id: Annotated[str | None, typer.Argument(metavar="ID", help="The new ID, or unique() for a generated one.",
                                                    show_default=False)] = None,
    id_: IdOpt = None,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="Display name (default: the ID).")] = None,
    permission: PermissionOpt = None,
    file_security: Annotated[bool | None, typer.Option(
        "--file-security/--no-file-security", help="Check each file's own permissions too.")] = None,
    max_size: Annotated[str | None, typer.Option(
        "--max-size", metavar="SIZE", help="Largest file allowed: bytes, or 500K, 10M, 1G (powers of 1024).")] = None,
    extension: Annotated[list[str] | None, typer.Option(
        "--extension", "-e", metavar="EXT", help="Allowed file extension (png or .png; repeatable, or a,b,c). "
                                                 "Default: any.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled (no uploads).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Create a bucket: rtcli bucket create photos -p read:any -p create:users -e png -e jpg --max-size 10M"""
    bucket_id = pick_new_id(bucket_id, id_, "bucket", "rtcli bucket create photos")
    perms = [args.parse_permission(p) for p in permission] if permission else None
    size = parse_size(max_size) if max_size is not None else None
    exts = parse_extensions(extension)
    result = _call(ctx, lambda s: s.create_bucket(bucket_id, name or bucket_id, perms, file_security,
                                                  False if disabled else None, size, exts))
    output.render(result, want_json(ctx, json_))


@bucket_app.command("list")
def bucket_list(ctx: typer.Context, query: QueryOpt = None, json_: JsonOpt = False) -> None:
    """List buckets."""
    queries = [args.parse_query(q) for q in query or []]
    output.render_list(_call(ctx, lambda s: s.list_buckets(queries)), want_json(ctx, json_), "buckets", BUCKET_COLUMNS)


@bucket_app.command("get")
def bucket_get(ctx: typer.Context, bucket_id: BucketArg, json_: JsonOpt = False) -> None:
    """Show one bucket."""
    output.render(_call(ctx, lambda s: s.get_bucket(bucket_id)), want_json(ctx, json_))


@bucket_app.command("delete")
def bucket_delete(ctx: typer.Context, bucket_id: BucketArg, json_: JsonOpt = False) -> None:
    """Delete a bucket with all its files."""
    _call(ctx, lambda s: s.delete_bucket(bucket_id))
    output.done(f"deleted bucket {bucket_id}", want_json(ctx, json_))


# --- files ------------------------------------------------------------------------------------


@file_app.command("upload")
def file_upload(
    ctx: typer.Context, bucket_id: BucketArg,
    paths: Annotated[list[str], typer.Argument(metavar="PATH", help="Files to upload.", show_default=False)],
    file_id: Annotated[str | None, typer.Option("--id", metavar="ID", help="File ID (one file only; default: a new unique ID).")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", metavar="NAME", help="File name to record (one file only; default: the path's base name).")] = None,
    permission: PermissionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Upload files: up to 5 MiB in one request, larger ones in 5 MiB chunks sent 8 at a time
    (as the Appwrite SDKs do). Prints each File (ID, size, signature); --json: one File per line."""
    if len(paths) > 1 and (file_id or name):
        raise typer.BadParameter("--id and --name need a single PATH", param_hint="--id/--name")
    for path in paths:
        if not os.path.isfile(path):
            what = "is a directory" if os.path.isdir(path) else "does not exist"
            raise typer.BadParameter(f"{path!r} {what}", param_hint="PATH")
    perms = maybe([args.parse_permission(p) for p in permission or []])
    as_json = want_json(ctx, json_)

    def upload_all(storage: "Storage") -> list[dict]:
        from rtcli.errors import RtcliError

        done: list[dict] = []
        with _progress() as progress:
            for path in paths:
                size = os.path.getsize(path)
                label = os.path.basename(path)
                task = progress.add_task(label, total=size)
                started = time.perf_counter()
                try:
                    model = storage.create_file(bucket_id, path, file_id, perms, filename=name,
                                                progress=lambda delta, task=task: progress.advance(task, delta))
                except RtcliError as e:
                    progress.stop()
                    output.fail(f"{path}: {output.describe_error(e)}")
                took = time.perf_counter() - started
                progress.update(task, completed=size)
                output.info(f"uploaded {label}: {_rate(size, took)}")
                if as_json:
                    output.emit_json(model)
                done.append(model)
        return done

    models = _call(ctx, upload_all)
    if not as_json:
        output.print_table([_file_row(m) for m in models], ["$id", "name", "size", "mimeType", "signature"])


@file_app.command("download")
def file_download(
    ctx: typer.Context, bucket_id: BucketArg, file_id: FileIdArg,
    out: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="PATH",
        help="Where to write: a file, a directory, or - for stdout (default: the file's name, here).")] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace an existing file at the target.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Download a file, streaming it to disk; an existing file is kept unless --force."""
    as_json = want_json(ctx, json_)
    to_stdout = out == "-"
    state: dict[str, Any] = {}

    def download(storage: "Storage") -> int:
        with _progress() as progress:
            task = progress.add_task(file_id, total=None)

            def dest(length: int | None, filename: str | None) -> Any:
                progress.update(task, total=length)
                if to_stdout:
                    return sys.stdout.buffer
                target = out or filename or file_id
                if os.path.isdir(target):
                    target = os.path.join(target, filename or file_id)
                state["path"] = os.path.abspath(target)
                if not force and os.path.lexists(state["path"]):
                    raise FileExistsError(errno.EEXIST, "already exists", state["path"])
                # Written next to the target and renamed at the end: no half file under its name.
                state["tmp"] = os.path.join(os.path.dirname(state["path"]), f".{os.path.basename(target)}.part")
                try:
                    state["file"] = open(state["tmp"], "wb")
                except OSError as e:
                    raise OSError(e.errno, e.strerror, state["path"]) from None
                return state["file"]

            def advance(delta: int) -> None:
                progress.advance(task, delta)

            try:
                size = storage.download(bucket_id, file_id, dest, advance)
            except BaseException:
                if "file" in state:
                    state["file"].close()
                    os.unlink(state["tmp"])
                raise
        if to_stdout:
            sys.stdout.buffer.flush()
        else:
            state["file"].close()
            os.replace(state["tmp"], state["path"])
        return size

    started = time.perf_counter()
    try:
        size = _call(ctx, download)
    except FileExistsError as e:
        output.fail(f"{e.filename} already exists: add --force to replace it, or choose another path with -o", code=1)
    except OSError as e:
        output.fail(f"cannot write {e.filename or out}: {e.strerror}")
    took = time.perf_counter() - started
    if to_stdout:
        output.info(f"downloaded {file_id}: {_rate(size, took)}")
    elif as_json:
        output.emit_json({"$id": file_id, "bucketId": bucket_id, "path": state["path"], "size": size})
    else:
        sys.stdout.write(f"downloaded {file_id} to {state['path']} ({_rate(size, took)})\n")


@file_app.command("list")
def file_list(
    ctx: typer.Context, bucket_id: BucketArg, query: QueryOpt = None,
    search: Annotated[str | None, typer.Option("--search", metavar="TEXT", help="Only files whose name matches.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="At most this many files.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List the files of a bucket: rtcli file list photos -q 'sizeOriginal>1000000'"""
    queries = [args.parse_query(q) for q in query or []]
    if limit is not None:
        queries.append(args.limit_query(limit))
    result = _call(ctx, lambda s: s.list_files(bucket_id, queries, search))
    output.render_list(result, want_json(ctx, json_), "files", FILE_COLUMNS, _file_row)


@file_app.command("get")
def file_get(ctx: typer.Context, bucket_id: BucketArg, file_id: FileIdArg, json_: JsonOpt = False) -> None:
    """Show one file's metadata."""
    output.render(_call(ctx, lambda s: s.get_file(bucket_id, file_id)), want_json(ctx, json_))


@file_app.command("delete")
def file_delete(ctx: typer.Context, bucket_id: BucketArg, file_id: FileIdArg, json_: JsonOpt = False) -> None:
    """Delete a file."""
    _call(ctx, lambda s: s.delete_file(bucket_id, file_id))
    output.done(f"deleted file {file_id}", want_json(ctx, json_))
