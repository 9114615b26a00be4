"""`rtcli replay FILE`: re-create the writes of a recording (`rtcli subscribe --json > FILE`)
against the current endpoint, with the configured API key.

What each kind of event becomes is decided in ``rtcli.client.replay`` (rows are re-created with
the same IDs, data and permissions; file, account, team and presence events are skipped with a
reason; HTTP executions re-run only when the event carries the request body). Before writing,
every table the recording writes to must exist on the target: the command stops and names the
missing ones, or with ``--create-missing`` creates them (schemaless, row security on).

stdout: with ``--dry-run`` the plan (one line per event; JSON objects with ``--json``); with
``--json`` otherwise the summary object. stderr: one progress line per event and the summary.
Exit code 1 when any write failed or a table is missing.
"""

# No `from __future__ import annotations` here: typer reads these signatures at start-up, and
# string annotations would cost a compile+eval each (~15 ms over all commands).

import sys
from typing import Annotated, Any

import typer

from rtcli.cli import args, output
from rtcli.cli.common import PermissionOpt, api, state, trim_httpx_imports, want_json


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)


def replay(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A recording: `rtcli subscribe --json CHANNEL > FILE` (- for stdin).",
                                        show_default=False)],
    speed: Annotated[float, typer.Option("--speed", metavar="X",
                                         help="Replay with the recorded timing, X times as fast; 0 = as fast as possible.")]
    = 0.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be done; write nothing.")] = False,
    create_missing: Annotated[bool, typer.Option(
        "--create-missing", help="Create missing databases and tables: schemaless, row security on (each row "
                                 "keeps the read roles of its own permissions), table permissions from -p.")] = False,
    permission: PermissionOpt = None,
    json_: Annotated[bool, typer.Option("--json", help="The plan (--dry-run) or the summary as JSON on stdout.")] = False,
) -> None:
    """Re-create the writes of a recording against this endpoint: rtcli replay events.jsonl --speed 2"""
    trim_httpx_imports()  # before rtcli.client.replay imports httpx
    from rtcli.client.replay import RecordingError, plan, read_recording

    if speed < 0:
        raise typer.BadParameter("must be 0 (as fast as possible) or more", param_hint="--speed")
    table_perms = [args.parse_permission(p) for p in permission or []]
    settings = state(ctx).settings()
    as_json = want_json(ctx, json_)
    if not settings.key and not dry_run:
        output.fail("replay writes with an API key (rows keep their recorded permissions): "
                    "give --key, RTCLI_KEY or a profile's key", code=2)
    try:
        stream = sys.stdin if file == "-" else open(file, encoding="utf-8")
    except OSError as e:
        output.fail(f"cannot read {file}: {e.strerror}", code=2)
    try:
        with stream:
            steps = [plan(ev) for ev in read_recording(stream)]
    except RecordingError as e:
        output.fail(f"{file}: {e}", code=2)
    if not steps:
        output.info(f"{file} holds no events: nothing to replay")
        return
    if dry_run:
        _print_plan(steps, as_json)
        if not settings.key:
            output.warn("no API key: did not check that the tables exist on the target")
            return
    _ensure_tables(ctx, steps, create_missing, table_perms, dry_run)
    if dry_run:
        return
    summary = api(ctx, lambda c: _run(c, steps, speed))
    _print_summary(summary, settings.endpoint, as_json)
    if summary.failed:
        raise typer.Exit(1)


def _ensure_tables(ctx: typer.Context, steps: list, create: bool, perms: list[str], dry_run: bool) -> None:
    from rtcli.client.api import TablesDB
    from rtcli.client.replay import create_missing, missing_tables, tables_of

    missing = api(ctx, lambda c: missing_tables(TablesDB(c), tables_of(steps)))
    if not missing:
        return
    names = ", ".join(f"database {d} (for table {d}/{t})" if what == "database" else f"table {d}/{t}"
                      for d, t, what in missing)
    endpoint = state(ctx).settings().endpoint
    if not create:
        output.fail(f"missing on {endpoint}: {names}. Create them first (`rtcli db create`, `rtcli table create`), "
                    "or pass --create-missing to create them schemaless")
    if dry_run:
        output.info(f"would create: {names}")
        return
    for made in api(ctx, lambda c: create_missing(TablesDB(c), missing, perms)):
        output.info(f"created {made}" + (" (schemaless, row security on)" if made.startswith("table") else ""))


def _print_plan(steps: list, as_json: bool) -> None:
    from collections import Counter

    for step in steps:
        if as_json:
            output.emit_json({k: v for k, v in {
                "action": step.action, "database": step.database, "table": step.table, "row": step.row,
                "function": step.function, "reason": step.reason, "cursor": step.event.get("cursor")}.items()
                if v is not None})
        else:
            sys.stdout.write(step.describe() + "\n")
    counts = Counter(s.action for s in steps)
    output.info(f"dry run: {len(steps)} event(s): " + ", ".join(f"{n} {a}" for a, n in counts.items()))


def _run(client: Any, steps: list, speed: float) -> Any:
    from rtcli.client.replay import Replayer

    width = len(str(len(steps)))

    def report(index: int, total: int, step: Any, outcome: tuple[str, str]) -> None:
        counter, detail = outcome
        note = f": {detail}" if detail else ""
        output.info(f"[{index:>{width}}/{total}] {counter:<8} {step.target}{note}")

    return Replayer(client, speed=speed).run(steps, report)


def _print_summary(summary: Any, endpoint: str, as_json: bool) -> None:
    s = summary
    output.info(f"replayed to {endpoint}: {s.created} created, {s.updated} updated, {s.upserted} upserted, "
                f"{s.deleted} deleted, {s.executed} executed, {s.skipped} skipped, {s.failed} failed")
    for reason, n in s.skip_reasons.most_common():
        output.info(f"  skipped {n}: {reason}")
    for err in s.errors:
        output.error(err)
    if as_json:
        output.emit_json(s.as_dict())
