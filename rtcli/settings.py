"""The server's settings and their defaults: the one place a default of `rtcli serve` is written.

The `serve` command's options, the server's composition root and the per-connection limits all
read their defaults from ``DEFAULTS``. Standard library only: `rtcli serve --help` imports this
module, and must not load the server's stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class SameSite(StrEnum):
    """The session cookie's SameSite attribute."""

    LAX = "lax"
    STRICT = "strict"
    NONE = "none"


class LogLevel(StrEnum):
    """The least severe of rtcli's own log lines shown."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


@dataclass
class ServeConfig:
    database: str | None = None  # postgresql://… (default: SQLite in data_dir)
    broker: str | None = None  # redis://… (default: in-process)
    log_poll: float = 1.0  # PostgreSQL: seconds between reads of the event log without a wake-up
    host: str = "127.0.0.1"
    port: int = 8787
    data_dir: Path = Path(".rtcli")
    api_key: str | None = None
    projects: list[str] = field(default_factory=list)
    max_queue: int = 1024  # frames queued per connection before the slow-consumer policy applies
    messages_per_minute: int = 120
    max_subscriptions: int = 1000  # per connection
    max_body: int = 10 * 1024 * 1024  # bytes of a JSON request body
    max_connections_per_ip: int = 1000  # concurrent realtime connections; 0 = no limit
    allow_origins: list[str] = field(default_factory=list)  # besides any localhost origin
    cookie_samesite: SameSite = SameSite.LAX
    function_env: list[str] = field(default_factory=list)  # server variables functions get, besides runner.PASSED_ENV
    forwarded_allow_ips: str = "127.0.0.1"  # proxies whose X-Forwarded-For/-Proto are believed
    # Not options of `rtcli serve`: see NOT_OPTIONS.
    session_limit_per_email: int = 10  # session creations per minute
    session_limit_per_ip: int = 100
    max_file_size: int = 1024 * 1024 * 1024  # server-wide; buckets may set less
    upload_timeout: float = 3600.0  # an unfinished chunked upload is removed after this
    max_executions: int = 4  # functions running at once; more wait their turn
    ws_compression: bool = False  # permessage-deflate: compresses every frame for every client
    retention_days: float = 7.0
    retention_events: int = 1_000_000
    log_level: LogLevel = LogLevel.info  # rtcli's own loggers; uvicorn's are quieter (warning) unless debug or error
    access_log: bool = False  # one line per HTTP request (uvicorn.access)
    max_message_size: int = 16 * 1024  # bytes of a topic message's JSON data
    publish_rate: int = 20  # topic messages a second per realtime connection; 0 = no limit
    publish_rate_user: int = 50  # topic messages a second per user (guests: per address), per node; 0 = none
    events_scan_limit: int = 10_000  # log rows one GET /v1/events reads (then a cursor to go on)
    replay_limit: int = 100_000  # log positions the replays (since) of one subscribe message cover
    max_teams_per_user: int = 100  # confirmed memberships of one user
    max_roles_per_membership: int = 20
    max_execution_queue: int = 100  # executions waiting or running, synchronous or not
    max_event_functions: int = 10_000  # enabled functions with events each node keeps (every project)


DEFAULTS = ServeConfig()

# Settings that `rtcli serve` does not expose (fixed for the server; tests set them).
NOT_OPTIONS = frozenset({"session_limit_per_email", "session_limit_per_ip"})
# Options whose setting has another name: a repeatable option names one item, the setting the list.
OPTION_NAMES = {"projects": "project", "allow_origins": "allow_origin"}
