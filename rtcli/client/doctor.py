"""Checks of a client's setup against its endpoint, for `rtcli doctor`: each says what it found
and, when something is wrong, what to do.

In order: the endpoint answers (``/v1/health``), the server's version, the clock difference
(from the HTTP ``Date`` header; sessions, JWTs and ``--since`` durations rely on close clocks),
the project exists, the credentials are accepted (API key, stored session, or guest), and the
realtime handshake completes. When the endpoint cannot be reached the others are not run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

from rtcli.client.api import ApiClient
from rtcli.client.config import Settings
from rtcli.errors import AppwriteError, RtcliError

CLOCK_SKEW_LIMIT = 5.0  # seconds; the Date header has a 1 s resolution
HANDSHAKE_TIMEOUT = 5.0


class Status(Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    advice: str = ""


def diagnose(settings: Settings, actor: str) -> list[Check]:
    """Run every check; ``actor`` is who the credentials act as, in words."""
    checks: list[Check] = []
    with ApiClient(settings.endpoint, settings.project, None, None) as guest:
        started = time.monotonic()
        try:
            health, headers = guest.call_with_headers("GET", "/health")
        except RtcliError as e:
            reason = getattr(e, "reason", None) or str(e)
            return [Check("endpoint", Status.FAIL, f"{settings.endpoint}: {reason}",
                          "start a server with `rtcli serve`, or set --endpoint / RTCLI_ENDPOINT")]
        took = (time.monotonic() - started) * 1000
        if not isinstance(health, dict) or "version" not in health:
            return [Check("endpoint", Status.FAIL, f"{settings.endpoint} answers, but not as an Appwrite API",
                          "check --endpoint / RTCLI_ENDPOINT: it ends in /v1")]
        checks.append(Check("endpoint", Status.OK, f"{settings.endpoint} answers in {took:.0f} ms"))
        appwrite = f" (Appwrite API {health['appwrite']})" if health.get("appwrite") else ""
        checks.append(Check("server", Status.OK, f"version {health['version']}{appwrite}"))
        checks.append(_clock(headers.get("date")))
        checks.append(_project(guest, settings.project))
    if checks[-1].status is Status.FAIL:
        return checks
    checks.append(_identity(settings, actor))
    checks.append(asyncio.run(_realtime(settings)))
    return checks


def _clock(date: str | None) -> Check:
    if not date:
        return Check("clock", Status.WARN, "the server sends no Date header: cannot compare clocks")
    try:
        skew = time.time() - parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return Check("clock", Status.WARN, f"unreadable Date header {date!r}")
    if abs(skew) <= CLOCK_SKEW_LIMIT:
        return Check("clock", Status.OK, f"within {CLOCK_SKEW_LIMIT:g} s of the server's")
    side = "ahead of" if skew > 0 else "behind"
    return Check("clock", Status.WARN, f"{abs(skew):.0f} s {side} the server's",
                 "sync the clocks (NTP): sessions, JWTs and --since durations rely on them")


def _project(guest: ApiClient, project: str) -> Check:
    try:
        guest.call("GET", "/account")  # a guest is refused (401) in a project that exists
    except AppwriteError as e:
        if e.type == "project_not_found":
            return Check("project", Status.FAIL, f"{project!r} does not exist on this server",
                         "set --project / RTCLI_PROJECT (rtcli serve --project ID makes one)")
        if e.code != 401:
            return Check("project", Status.FAIL, f"{project!r}: {e.message} ({e.type})")
    except RtcliError as e:
        return Check("project", Status.FAIL, f"{project!r}: {e}")
    return Check("project", Status.OK, f"{project!r} exists")


def _identity(settings: Settings, actor: str) -> Check:
    with ApiClient(settings.endpoint, settings.project, settings.key, settings.session) as client:
        try:
            account: Any = client.call("GET", "/account")
        except AppwriteError as e:
            if settings.key:
                if e.type == "general_unauthorized_scope":  # a valid key: keys have no account
                    return Check("identity", Status.OK, f"{actor}: accepted")
                return Check("identity", Status.FAIL, f"{actor}: refused ({e.type})",
                             "use the server's key (.rtcli/api-key) or one from `rtcli key create`")
            if settings.session:
                return Check("identity", Status.FAIL, f"{actor}: no longer valid ({e.type})", "`rtcli login` again")
            return Check("identity", Status.WARN, actor,
                         "set RTCLI_KEY=$(cat .rtcli/api-key) (or --key) for server access, or `rtcli login`")
        except RtcliError as e:
            return Check("identity", Status.FAIL, f"{actor}: {e}")
    email = account.get("email") if isinstance(account, dict) else None
    return Check("identity", Status.OK, f"{actor}: accepted{f' ({email})' if email else ''}")


async def _realtime(settings: Settings) -> Check:
    from rtcli.client.realtime import ConnectionState, RealtimeClient, RealtimeFatal, StateChange

    client = RealtimeClient(settings.endpoint, settings.project, key=settings.key, session=settings.session,
                            connect_timeout=HANDSHAKE_TIMEOUT)
    started = time.monotonic()
    try:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT + 1):
            async for item in client.stream():
                if isinstance(item, StateChange) and item.state is ConnectionState.CONNECTED:
                    took = (time.monotonic() - started) * 1000
                    return Check("realtime", Status.OK, f"{client.url.split('?')[0]} handshake in {took:.0f} ms")
                if isinstance(item, StateChange) and item.state is ConnectionState.RECONNECTING:
                    return Check("realtime", Status.FAIL, f"{client.url}: {item.error}",
                                 "a proxy in front must pass WebSocket upgrades")
    except RealtimeFatal as e:
        return Check("realtime", Status.FAIL, f"{client.url}: {e}")
    except TimeoutError:
        return Check("realtime", Status.FAIL, f"{client.url}: no answer in {HANDSHAKE_TIMEOUT:g} s")
    finally:
        await client.close()
    return Check("realtime", Status.FAIL, f"{client.url}: closed before the handshake")
