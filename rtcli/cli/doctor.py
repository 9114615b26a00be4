"""`rtcli doctor`: is this client set up right? One screen of checks (see rtcli.client.doctor),
exit 1 when one of them fails."""

# No `from __future__ import annotations` here: typer reads these signatures at start-up.

import sys

import typer

from rtcli.cli import output
from rtcli.cli.common import JsonOpt, acting_as, state, trim_httpx_imports, want_json


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Check the setup: endpoint reachable, server version, clock, project, who you act as, realtime."""
    settings = state(ctx).settings()
    trim_httpx_imports()
    from rtcli.client.doctor import Status, diagnose

    checks = diagnose(settings, acting_as(settings))
    failed = any(c.status is Status.FAIL for c in checks)
    if want_json(ctx, json_):
        output.emit_json({"ok": not failed, "endpoint": settings.endpoint, "project": settings.project,
                          "profile": settings.profile,
                          "checks": [{"name": c.name, "status": c.status.value, "detail": c.detail,
                                      "advice": c.advice} for c in checks]})
    else:
        lines = [f"rtcli doctor: {settings.endpoint}, project {settings.project}, profile {settings.profile}"]
        for c in checks:
            lines.append(f"  {c.status.value:<4}  {c.name:<8}  {c.detail}")
            if c.advice:
                lines.append(f"  {'':<4}  {'':<8}  -> {c.advice}")
        sys.stdout.write("\n".join(lines) + "\n")
    if failed:
        raise typer.Exit(1)
