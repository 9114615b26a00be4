"""Appwrite's Health API (/v1/health…), answered for what a local server has.

``/health`` and ``/health/version`` are public (clients such as the Appwrite CLI probe the
version before anything else); the others need an API key with the ``health.read`` scope, as in
Appwrite. Each check is real: the database answers a query, the files directory takes a write
and a read back, the broker answers a ping, the time is compared with an NTP server. What rtcli
does not have is said plainly: no cache (the statuses list is empty), no antivirus
(``disabled``); its queues are empty, except ``functions``, which counts the executions waiting
for a free slot (``--max-executions``).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli import APPWRITE_VERSION, __version__
from rtcli.errors import AppwriteError
from rtcli.server.http import ctx, json_response
from rtcli.services.context import Ctx

NTP_SERVER = ("pool.ntp.org", 123)
NTP_TIMEOUT = 2.0
TIME_GAP = 60  # seconds of drift before /health/time fails, as Appwrite's default
# Appwrite's queue names (old per-queue routes and the names /health/queue/failed/{name} takes).
QUEUES = ("webhooks", "logs", "certificates", "builds", "databases", "deletes", "mails", "messaging", "migrations",
          "functions", "stats-resources", "stats-usage", "audits", "screenshots", "notifications")
FAILED_QUEUES = ("v1-database", "v1-deletes", "v1-audits", "v1-mails", "v1-functions", "v1-stats-resources",
                 "v1-stats-usage", "v1-webhooks", "v1-certificates", "v1-builds", "v1-screenshots", "v1-messaging",
                 "v1-migrations", "v1-notifications")


def _ms(start: float) -> int:
    return round((time.monotonic() - start) * 1000)


async def _reader(request: Request) -> Ctx:
    c = await ctx(request)
    c.require_key("health.read")
    return c


async def health(request: Request) -> Response:
    return json_response({"name": "http", "status": "pass", "ping": 0, "version": __version__,
                          "appwrite": APPWRITE_VERSION})


async def version(request: Request) -> Response:
    return json_response({"version": APPWRITE_VERSION})


async def db(request: Request) -> Response:
    await _reader(request)
    store = request.app.state.store
    kind = "postgresql" if type(store).__name__.startswith("Postgres") else "sqlite"
    start = time.monotonic()
    await store.fetchone("SELECT 1")  # unreachable PostgreSQL: 503 general_service_unavailable
    return json_response({"total": 1, "statuses": [{"name": f"database ({kind})", "status": "pass",
                                                     "ping": _ms(start)}]})


async def cache(request: Request) -> Response:
    await _reader(request)
    return json_response({"total": 0, "statuses": []})  # rtcli keeps no cache service


async def pubsub(request: Request) -> Response:
    await _reader(request)
    broker = request.app.state.broker
    start = time.monotonic()
    try:
        await broker.ping()
    except Exception as e:  # noqa: BLE001 - any failure of the broker is what this route reports
        raise AppwriteError("general_service_unavailable", f"Pubsub failure on: {broker.name} ({e})") from None
    return json_response({"total": 1, "statuses": [{"name": f"pubsub ({broker.name})", "status": "pass",
                                                    "ping": _ms(start)}]})


async def storage(request: Request) -> Response:
    await _reader(request)
    root = request.app.state.services.storage.root
    start = time.monotonic()

    def check() -> None:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".health-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"ok")
            if probe.read_bytes() != b"ok":
                raise OSError("content mismatch")
        finally:
            probe.unlink(missing_ok=True)

    try:
        await asyncio.to_thread(check)
    except OSError as e:
        raise AppwriteError("general_service_unavailable", f"The files directory {root} failed a check: {e}") from None
    return json_response({"name": "storage", "status": "pass", "ping": _ms(start)})


async def antivirus(request: Request) -> Response:
    await _reader(request)
    return json_response({"version": "", "status": "disabled"})  # rtcli scans no uploads


def _ntp_time() -> int:
    """Seconds since the epoch by the NTP server (SNTP, one UDP round trip)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(NTP_TIMEOUT)
        sock.sendto(b"\x1b" + 47 * b"\0", NTP_SERVER)
        data, _ = sock.recvfrom(48)
    if len(data) < 48:
        raise OSError(f"invalid NTP response: {len(data)} bytes instead of 48")
    seconds: int = struct.unpack("!12I", data)[10]
    return seconds - 2208988800


async def time_(request: Request) -> Response:
    await _reader(request)
    try:
        remote = await asyncio.to_thread(_ntp_time)
    except OSError as e:
        raise AppwriteError("general_service_unavailable",
                            f"Failed to reach the time server {NTP_SERVER[0]}: {e}. The server needs outbound "
                            "UDP port 123 for this check.") from None
    local = int(time.time())
    if abs(remote - local) > TIME_GAP:
        raise AppwriteError("general_server_error", f"Server time gaps detected: {remote - local} s.", code=500)
    return json_response({"remoteTime": remote, "localTime": local, "diff": remote - local})


def _threshold(request: Request) -> int:
    raw = request.query_params.get("threshold", "5000")
    if not raw.isdigit() or len(raw) > 9:
        raise AppwriteError("general_argument_invalid", "Invalid `threshold` param: Value must be a valid integer")
    return int(raw)


def _queue_answer(name: str, size: int, threshold: int) -> Response:
    if size >= threshold:
        raise AppwriteError("health_queue_size_exceeded",
                            f"Queue {name} threshold hit. Current value is {size} and threshold is {threshold}.")
    return json_response({"size": size})


async def queue(request: Request) -> Response:
    await _reader(request)
    name = request.path_params["name"]
    if name not in QUEUES:
        raise AppwriteError("general_route_not_found", f"Unknown queue '{name}'. Queues: {', '.join(QUEUES)}.")
    # rtcli works inline: only function executions may wait (for a free slot).
    size: int = request.app.state.services.executions.runner.queued if name == "functions" else 0
    return _queue_answer(name, size, _threshold(request))


async def queue_failed(request: Request) -> Response:
    await _reader(request)
    name = request.path_params["name"]
    if name not in FAILED_QUEUES:
        raise AppwriteError("general_argument_invalid",
                            f"Invalid `name` param: Value must be one of ({', '.join(FAILED_QUEUES)})")
    return _queue_answer(name, 0, _threshold(request))  # no job is retried later: none is left failed


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/health/version", version, methods=["GET"]),
    Route("/health/db", db, methods=["GET"]),
    Route("/health/cache", cache, methods=["GET"]),
    Route("/health/pubsub", pubsub, methods=["GET"]),
    Route("/health/storage", storage, methods=["GET"]),
    Route("/health/storage/local", storage, methods=["GET"]),
    Route("/health/anti-virus", antivirus, methods=["GET"]),
    Route("/health/time", time_, methods=["GET"]),
    Route("/health/queue/failed/{name}", queue_failed, methods=["GET"]),
    Route("/health/queue/{name}", queue, methods=["GET"]),
]
