"""`rtcli serve`: run the server. Heavy imports (uvicorn, starlette, aiosqlite) happen inside."""

from __future__ import annotations

from pathlib import Path

import typer

from rtcli.settings import DEFAULTS, LogLevel, SameSite, ServeConfig


def register(app: typer.Typer) -> None:
    app.command(help="Run the realtime server (REST + WebSocket on one port, SQLite in the data dir). "
                     "Fixed limits: incoming realtime messages up to 64,000 bytes (as Appwrite; a larger one "
                     "closes the connection with 1009), 100 channels and 100 queries per subscription.")(serve)


def serve(
    host: str = typer.Option(DEFAULTS.host, metavar="HOST",
                             help="Interface to listen on."),
    database: str | None = typer.Option(DEFAULTS.database, "--database", envvar="RTCLI_DATABASE",
                                           metavar="URL", help="postgresql://… to keep data and the event log in PostgreSQL "
                                                "(default: SQLite in the data dir)."),
    broker: str | None = typer.Option(DEFAULTS.broker, "--broker", envvar="RTCLI_BROKER",
                                         metavar="URL", help="redis://… to join other nodes on the same database (default: in-process)."),
    log_poll: float = typer.Option(DEFAULTS.log_poll, "--log-poll", min=0.01, max=60.0,
                                   metavar="S", help="PostgreSQL: seconds between a node's reads of the event log when no wake-up "
                                        "arrives (Redis down, a lost message)."),
    port: int = typer.Option(DEFAULTS.port, min=0, max=65535, metavar="N",
                             help="TCP port for REST and WebSocket."),
    data_dir: Path = typer.Option(DEFAULTS.data_dir, "--data-dir", envvar="RTCLI_DATA_DIR",
                                  metavar="DIR", help="Where the SQLite database and the generated API key live."),
    api_key: str | None = typer.Option(DEFAULTS.api_key, "--api-key", envvar="RTCLI_API_KEY",
                                          metavar="KEY",
                                          help="The default project's server key (else generated and kept in the data dir)."),
    project: list[str] = typer.Option(DEFAULTS.projects, "--project",
                                      metavar="ID", help="Make sure this project exists (repeatable); 'default' always does."),
    max_queue: int = typer.Option(DEFAULTS.max_queue, min=1,
                                  metavar="N", help="Frames queued per connection before a slow client is closed (code 4008); "
                                  "also the live frames held while a replay runs."),
    messages_per_minute: int = typer.Option(DEFAULTS.messages_per_minute,
                                            metavar="N",
                                            help="Incoming realtime messages allowed per connection per minute (Appwrite: 32)."),
    max_subscriptions: int = typer.Option(DEFAULTS.max_subscriptions, min=1, metavar="N",
                                          help="Subscriptions allowed per realtime connection."),
    max_connections_per_ip: int = typer.Option(DEFAULTS.max_connections_per_ip, min=0,
                                               metavar="N", help="Concurrent realtime connections per client address (0: no limit)."),
    max_body: int = typer.Option(DEFAULTS.max_body, min=1, metavar="N",
                                 help="Largest JSON request body, in bytes (413 past it)."),
    max_file_size: int = typer.Option(DEFAULTS.max_file_size, min=1, metavar="N",
                                      help="Largest file, in bytes (buckets may allow less)."),
    max_executions: int = typer.Option(DEFAULTS.max_executions, min=1,
                                        metavar="N", help="Function executions running at once; more wait their turn."),
    upload_timeout: float = typer.Option(DEFAULTS.upload_timeout, metavar="S",
                                         help="Seconds before an unfinished chunked upload is removed."),
    allow_origin: list[str] = typer.Option(DEFAULTS.allow_origins, "--allow-origin", metavar="ORIGIN",
                                           help="Browser origin allowed besides localhost "
                                           "(repeatable; * for any, null for sandboxed pages, which * leaves out). "
                                           "Other origins cannot open realtime connections or make REST writes."),
    cookie_samesite: SameSite = typer.Option(DEFAULTS.cookie_samesite, "--cookie-samesite", case_sensitive=False,
                                             help="SameSite of the session cookie. lax: other sites' pages cannot use it; "
                                                  "none: for an app on another site (HTTPS or localhost only)."),
    function_env: list[str] = typer.Option(DEFAULTS.function_env, "--function-env", metavar="NAME",
                                           help="A variable of the server's environment that functions get (repeatable). "
                                                "Otherwise they get only PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_ALL, TZ, TMPDIR "
                                                "and their own RTCLI_*/APPWRITE_* variables: never the server's key or database URL."),
    forwarded_allow_ips: str = typer.Option(DEFAULTS.forwarded_allow_ips, "--forwarded-allow-ips", envvar="FORWARDED_ALLOW_IPS",
                                            metavar="ADDRESSES",
                                            help="Comma-separated proxy addresses (or networks, or *) whose X-Forwarded-For "
                                                 "and X-Forwarded-Proto are believed: client address, HTTPS for Secure cookies."),
    ws_compression: bool = typer.Option(DEFAULTS.ws_compression, "--ws-compression/--no-ws-compression",
                                        help="Offer permessage-deflate to realtime clients (less bandwidth, much more CPU per delivery)."),
    retention_days: float = typer.Option(DEFAULTS.retention_days, metavar="N",
                                         help="Keep events in the log this many days."),
    retention_events: int = typer.Option(DEFAULTS.retention_events, metavar="N",
                                         help="Keep at most this many events in the log."),
    max_message_size: int = typer.Option(DEFAULTS.max_message_size, min=2, max=10 * 1024 * 1024,
                                         metavar="N",
                                         help="Largest topic message, in bytes of its JSON data (realtime frames stay within 64,000)."),
    publish_rate: int = typer.Option(DEFAULTS.publish_rate, min=0,
                                     metavar="N", help="Topic messages a realtime connection may publish per second (0: no limit)."),
    publish_rate_user: int = typer.Option(DEFAULTS.publish_rate_user, min=0,
                                          metavar="N", help="Topic messages a user (a guest: an address) may publish per second "
                                               "on this node, over REST and every connection together; "
                                               "API keys are exempt (0: no limit)."),
    events_scan_limit: int = typer.Option(DEFAULTS.events_scan_limit, min=1,
                                          metavar="N", help="Log events one GET /v1/events request reads, readable or "
                                               "not; past it the page ends with a cursor to continue from."),
    replay_limit: int = typer.Option(DEFAULTS.replay_limit, min=0,
                                     metavar="N", help="Log events the replays (since) of one subscribe message may cover; "
                                          "a subscription further behind gets resumed: false."),
    max_teams_per_user: int = typer.Option(DEFAULTS.max_teams_per_user, min=1, metavar="N",
                                           help="Teams one user may be a confirmed member of."),
    max_roles_per_membership: int = typer.Option(DEFAULTS.max_roles_per_membership, min=1, max=100,
                                                 metavar="N", help="Roles one team membership may have (Appwrite: 100)."),
    max_execution_queue: int = typer.Option(DEFAULTS.max_execution_queue, min=1,
                                            metavar="N", help="Executions waiting or running, synchronous or not (each "
                                                 "holds its body in memory); more are refused with 503, event-triggered "
                                                 "ones recorded as failed."),
    max_event_functions: int = typer.Option(DEFAULTS.max_event_functions, min=1,
                                            metavar="N", help="Enabled functions with event triggers each node keeps in memory, "
                                                 "over every project; past it (a warning in the log at each load) "
                                                 "the later ones, by project then id, do not run on events."),
    log_level: LogLevel = typer.Option(DEFAULTS.log_level, "--log-level", help="Least severe log lines shown (on stderr)."),
    access_log: bool = typer.Option(DEFAULTS.access_log, "--access-log/--no-access-log",
                                    help="Log one line per HTTP request: client, method, path, status."),
) -> None:
    import logging

    from rtcli.server.app import serve as run

    logging.basicConfig(level=log_level.value.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ServeConfig(database=database, broker=broker, log_poll=log_poll, host=host, port=port, data_dir=data_dir,
                         api_key=api_key, projects=list(project), max_queue=max_queue, messages_per_minute=messages_per_minute,
                         max_subscriptions=max_subscriptions, max_connections_per_ip=max_connections_per_ip,
                         max_body=max_body, max_file_size=max_file_size, upload_timeout=upload_timeout,
                         max_executions=max_executions,
                         allow_origins=list(allow_origin), cookie_samesite=cookie_samesite, function_env=list(function_env),
                         forwarded_allow_ips=forwarded_allow_ips, ws_compression=ws_compression,
                         retention_days=retention_days, retention_events=retention_events,
                         max_message_size=max_message_size, publish_rate=publish_rate, publish_rate_user=publish_rate_user,
                         events_scan_limit=events_scan_limit, replay_limit=replay_limit,
                         max_teams_per_user=max_teams_per_user, max_roles_per_membership=max_roles_per_membership,
                         max_execution_queue=max_execution_queue,
                         max_event_functions=max_event_functions, log_level=log_level, access_log=access_log)

    def banner(cfg: ServeConfig) -> None:
        url = f"{url_host(cfg.host)}:{cfg.port}"
        typer.echo(f"rtcli serving on http://{url}/v1  (realtime: ws://{url}/v1/realtime)", err=True)
        typer.echo(f"  project:  default{''.join(', ' + p for p in cfg.projects)}", err=True)
        typer.echo(f"  api key:  {cfg.api_key}", err=True)
        if cfg.database:
            from urllib.parse import urlsplit

            u = urlsplit(cfg.database)  # never print a password
            typer.echo(f"  database: {u.scheme}://{u.hostname}:{u.port or 5432}{u.path}"
                       f"{'  broker: ' + cfg.broker.split('@')[-1] if cfg.broker else ''}", err=True)
        typer.echo(f"  data:     {cfg.data_dir.resolve()}", err=True)
        typer.echo("try, in another terminal:", err=True)
        for line in try_lines(cfg):
            typer.echo(f"  {line}", err=True)

    from rtcli.server.startup import StartupError

    try:
        run(config, banner)
    except StartupError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    except ValueError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


def url_host(host: str) -> str:
    """The host as it goes in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host else host


def client_endpoint(host: str, port: int) -> str:
    """The endpoint a client on this machine uses: a wildcard address is not one to connect to."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{url_host(host)}:{port}/v1"


def try_lines(cfg) -> list[str]:
    """Shell lines that work when pasted, whatever the host, port and data directory: the
    endpoint, and the key read from its file (or as given, when it came from --api-key)."""
    import shlex

    from rtcli.server.app import key_file

    path = key_file(cfg.data_dir).resolve()
    try:
        kept = path.read_text().strip() == cfg.api_key
    except OSError:
        kept = False
    key = f"$(cat {shlex.quote(str(path))})" if kept else shlex.quote(cfg.api_key)
    return [f"export RTCLI_ENDPOINT={client_endpoint(cfg.host, cfg.port)} RTCLI_KEY={key}",
            "rtcli db create main --name Main"]
