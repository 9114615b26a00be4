"""The composition root: the one place that picks the store and the broker and wires the app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from rtcli.broker.memory import MemoryBroker
from rtcli.core.event import Event
from rtcli.core.hub import Hub
from rtcli.core.ports import Broker, Store
from rtcli.server import background
from rtcli.server.cors import Cors
from rtcli.server.errors import HANDLERS
from rtcli.server.metrics import Count, Metrics, metrics_endpoint
from rtcli.server.origins import OriginGuard, OriginPolicy
from rtcli.server.realtime import Realtime
from rtcli.server.realtime_steps import Collaborators
from rtcli.server.write_limits import WriteLimits
from rtcli.server.routes import account as account_routes
from rtcli.server.routes import databases as databases_routes
from rtcli.server.routes import events as events_routes
from rtcli.server.routes import functions as functions_routes
from rtcli.server.routes import health as health_routes
from rtcli.server.routes import keys as keys_routes
from rtcli.server.routes import presences as presences_routes
from rtcli.server.routes import openapi as openapi_routes
from rtcli.server.routes import tablesdb as tablesdb_routes
from rtcli.server.routes import storage as storage_routes
from rtcli.server.routes import teams as teams_routes
from rtcli.server.routes import topics as topics_routes
from rtcli.server.routes import users as users_routes
from rtcli.server.routes import unsupported as unsupported_routes
from rtcli.server.routing import SegmentIndex
from rtcli.services.account import Account
from rtcli.server.runner import Runner
from rtcli.services.auth import Auth
from rtcli.services.eventlog import EventLog
from rtcli.services.explain import Explain
from rtcli.services.executions import Executions
from rtcli.services.functions import Functions
from rtcli.services.indexes import Indexes
from rtcli.services.transactions import Transactions
from rtcli.services.presence import Presence
from rtcli.services.projects import Keys, Projects, new_key
from rtcli.services.rows import Rows
from rtcli.services.storage import Storage
from rtcli.services.tablesdb import TablesDB
from rtcli.services.teams import TeamLimits, Teams
from rtcli.services.triggers import EventTriggers
from rtcli.services.visibility import LogVisibility
from rtcli.services.topics import PublishLimits, Topics
from rtcli.services.users import Users
from rtcli.settings import ServeConfig
from rtcli.store.functions import FunctionsStore
from rtcli.store.presence import PresenceStore
from rtcli.store.sqlite.db import SqliteStore
from rtcli.store.storage import StorageStore
from rtcli.store.tablesdb import TablesDBStore
from rtcli.store.transactions import TransactionStore
from rtcli.store.topics import TopicStore
from rtcli.store.projects import ProjectStore
from rtcli.store.teams import TeamStore
from rtcli.store.users import UsersStore

if TYPE_CHECKING:
    import socket

    import uvicorn

log = logging.getLogger("rtcli.server")

CORS_ALLOW_HEADERS = [
    "Content-Type", "Content-Range", "Range", "Cache-Control", "Origin", "Accept", "X-Requested-With",
    "X-Appwrite-Project", "X-Appwrite-Key", "X-Appwrite-JWT", "X-Appwrite-Session", "X-Appwrite-Response-Format",
    "X-Appwrite-ID", "X-Appwrite-Locale", "X-Appwrite-Dev-Key", "X-Appwrite-Impersonate-User-Id",
    "X-Appwrite-Impersonate-User-Email", "X-Appwrite-Impersonate-User-Phone", "X-SDK-Version", "X-SDK-Name",
    "X-SDK-Language", "X-SDK-Platform", "X-SDK-GraphQL", "X-Fallback-Cookies", "X-Forwarded-User-Agent",
]


class EncodedSlashGuard:
    """Refuse ``%2F`` in a path: routing sees the decoded path, so an id holding an encoded
    slash could otherwise reach another route (ids may not contain '/' anyway)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and b"%2f" in raw.lower():
            from rtcli.errors import AppwriteError
            from rtcli.server.errors import error_response

            resp = error_response(AppwriteError("general_argument_invalid",
                                                "Invalid path: an id cannot contain an encoded '/'."))
            await resp(scope, receive, send)
            return
        await self.app(scope, receive, send)


@dataclass
class Services:
    tablesdb: TablesDB
    rows: Rows
    account: Account
    teams: Teams
    keys: Keys
    storage: Storage
    functions: Functions
    executions: Executions
    events: EventLog
    explain: Explain
    presence: Presence
    topics: Topics
    users: Users
    indexes: Indexes
    transactions: Transactions


def key_file(data_dir: Path) -> Path:
    return data_dir / "api-key"


def load_or_create_key(data_dir: Path, given: str | None) -> str:
    """The default project's key: the given one, or the one kept in the data dir, or a new one."""
    path = key_file(data_dir)
    if given:
        return given
    if path.exists():
        return path.read_text().strip()
    key = new_key()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def make_store_and_broker(config: ServeConfig) -> tuple[Store, Broker, list[Count]]:
    """The one place that picks the backends: SQLite or PostgreSQL, in-process or Redis; with
    the counters they keep for /metrics."""
    store: Store
    broker: Broker
    counts: list[Count] = []
    if config.database and config.database.split(":", 1)[0] in ("postgres", "postgresql"):
        from rtcli.store.postgres.db import PostgresStore

        pg = store = PostgresStore(config.database)
        counts += [Count("rtcli_create_statements", "Statements that wrote row creates (several creates share one "
                         "under load)", lambda: pg.group.statements),
                   Count("rtcli_statement_creates", "Row creates those statements carried", lambda: pg.group.creates),
                   Count("rtcli_statement_lingers", "Statements that waited (2 ms at most) for creates they could "
                         "expect", lambda: pg.group.lingered)]
    elif config.database:
        raise ValueError(f"unsupported --database {config.database!r}: use postgresql://… (or none for SQLite)")
    else:
        store = SqliteStore(config.data_dir / "rtcli.db")
    if config.broker and config.broker.split(":", 1)[0] in ("redis", "rediss"):
        if not config.database:
            raise ValueError("a Redis broker joins several nodes, which need a shared database: "
                             "add --database postgresql://…")
        from rtcli.broker.redis import RedisBroker

        broker = RedisBroker(config.broker, store, poll=config.log_poll)
        follower = broker.follower
    elif config.broker:
        raise ValueError(f"unsupported --broker {config.broker!r}: use redis://… (or none for in-process)")
    elif config.database:
        # PostgreSQL commits in parallel: even one node delivers from the settled log, in order.
        from rtcli.broker.follower import LogFollower

        broker = follower = LogFollower(store, poll=config.log_poll)
    else:
        return store, MemoryBroker(), counts
    counts.append(Count("rtcli_log_reads", "Reads of the settled event log by this node", lambda: follower.reads))
    counts.append(Count("rtcli_log_reads_held", "Other nodes' announcements left to the read after this node's "
                        "own commit (5 ms at most)", lambda: follower.held))
    counts.append(Count("rtcli_log_views", "Log reads that also read which transactions of this database run "
                        "(pg_stat_activity)", lambda: pg.views))
    return store, broker, counts


def build_app(config: ServeConfig) -> Starlette:
    """The parts in dependency order: backends, repositories, services, what runs on each
    delivered event, the app. The lifespan opens and starts them, then stops them."""
    store, broker, counts = make_store_and_broker(config)
    hub = Hub(max_held=config.max_queue)
    metrics = Metrics(hub, counts)

    project_store = ProjectStore(store)
    users = UsersStore(store)
    team_store = TeamStore(store)
    files = StorageStore(store)
    topic_store = TopicStore(store)
    function_store = FunctionsStore(store)

    projects = Projects(store, project_store)
    authn = Auth(store, users, team_store)
    tables = TablesDB(store, TablesDBStore(store))
    rows = Rows(tables)
    executions = Executions(store, function_store, Runner(config.max_executions, passed_env=tuple(config.function_env)),
                            lambda: f"http://{config.host}:{config.port}/v1", projects, config.max_execution_queue)
    services = Services(
        tablesdb=tables, rows=rows,
        account=Account(store, users, team_store, authn, config.session_limit_per_email, config.session_limit_per_ip),
        teams=Teams(store, team_store, users, authn, TeamLimits(config.max_teams_per_user, config.max_roles_per_membership)),
        keys=Keys(store, project_store, projects),
        storage=Storage(store, files, config.data_dir / "files", config.max_file_size,
                        config.upload_timeout),
        functions=Functions(store, function_store,
                            EventTriggers(function_store, executions.on_event, config.max_event_functions)),
        executions=executions,
        events=EventLog(store, config.events_scan_limit, lambda: LogVisibility(tables.repo, files, topic_store)),
        explain=Explain(store, users, authn, metrics),
        presence=Presence(store, PresenceStore(store)),
        topics=Topics(store, topic_store, broker, PublishLimits(config.max_message_size, config.publish_rate_user)),
        users=Users(store, users, team_store, authn), indexes=Indexes(tables),
        transactions=Transactions(store, TransactionStore(store), rows))
    triggers = services.functions.triggers

    reloads: set[asyncio.Task[None]] = set()

    async def reload_keys() -> None:
        try:
            await projects.load()
        except Exception:  # the next key change reloads again; the old keys stay meanwhile
            log.exception("could not reload the API keys")

    async def reload_functions() -> None:
        try:
            await triggers.load()
        except Exception:  # the next function change reloads again; the old triggers stay meanwhile
            log.exception("could not reload the event triggers")

    def reload(what: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.get_running_loop().create_task(what())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    def deliver(event: Event) -> None:
        metrics.dispatched(event)
        # Keys and event triggers are kept in memory: a change on any node reaches every node here.
        if event.controls.reload_keys:
            reload(reload_keys)
        if event.controls.reload_functions:
            reload(reload_functions)
        services.topics.changed(event)  # topics are kept in memory too: a change on any node reaches every node here
        tables.changed(event)  # and TablesDB schemas
        hub.dispatch(event)

    def on_commit(events: list[Event]) -> None:
        broker.publish(events)
        triggers.schedule(events)  # event functions run on the node that committed the write

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        await projects.load()
        await authn.load()
        for p in ["default", *config.projects]:
            await projects.ensure(p)
        config.api_key = load_or_create_key(config.data_dir, config.api_key)
        await projects.ensure_key("default", config.api_key)
        # Events committed before a crash were never dispatched; they are in the log and
        # resumable. Live dispatch continues after the current head.
        head = await store.head()
        for p in projects.known:
            hub.last_seq[p] = head
        await services.executions.recover()
        await triggers.load()
        store.on_commit = on_commit  # from here on, until the broker closes
        await broker.start(deliver)
        if isinstance(store, SqliteStore):
            # One node: the realtime presences of a previous run are stale, their connections gone.
            await services.presence.forget_realtime()
        tasks = [asyncio.create_task(background.housekeeping(store, services.storage, services.transactions, config)),
                 asyncio.create_task(background.presence_loop(services.presence))]
        app.state.ready = True
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            # Let them finish cancelling before the store closes under them.
            await asyncio.gather(*tasks, return_exceptions=True)
            await broker.close()
            await store.close()

    origins = OriginPolicy(config.allow_origins)
    app = Starlette(
        routes=[
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Mount("/v1", routes=[SegmentIndex([
                *health_routes.routes,
                *openapi_routes.routes,
                *tablesdb_routes.routes,
                *databases_routes.routes,
                *account_routes.routes,
                *teams_routes.routes,
                *users_routes.routes,
                *keys_routes.routes,
                *storage_routes.routes,
                *functions_routes.routes,
                *events_routes.routes,
                *presences_routes.routes,
                *topics_routes.routes,
                *unsupported_routes.routes,  # last: what no route above took
            ])]),
        ],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
        middleware=[Middleware(
            Cors, allow_origin_regex=origins.regex, allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"], allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=["X-Appwrite-Session", "X-Fallback-Cookies"], max_age=600),
            Middleware(EncodedSlashGuard), Middleware(OriginGuard, policy=origins)],
    )
    # What routes read (request.app.state).
    app.state.config = config
    app.state.store = store
    app.state.broker = broker
    app.state.hub = hub
    app.state.projects = projects
    app.state.auth = authn
    app.state.origins = origins
    app.state.services = services
    app.state.metrics = metrics
    app.state.write_limits = WriteLimits()
    # Last: the realtime endpoint, which uvicorn is given (uvicorn_config).
    app.state.realtime = Realtime(
        config, Collaborators(store=store, hub=hub, metrics=metrics, projects=projects, auth=authn, origins=origins,
                              presence=services.presence, topics=services.topics, events=services.events),
        node_id=secrets.token_hex(4) + ":")  # connection ids are unique across nodes
    return app


def serve(config: ServeConfig, banner: Callable[[ServeConfig], None] | None = None) -> None:
    """Run the server until Ctrl-C or SIGTERM (uvicorn closes connections, then the store)."""
    import uvicorn

    from rtcli.server.startup import DataDirLock, bind

    # With SQLite the data directory is one server's: see server/startup.py. PostgreSQL nodes
    # share theirs (file bytes), their events meet in the shared log.
    lock = DataDirLock(config.data_dir) if not config.database else None
    if lock:
        lock.check()  # before binding: "in use by the server on port N" says more than "port in use"
    sock = bind(config.host, config.port)  # before creating anything on disk
    try:
        config.port = sock.getsockname()[1]  # --port 0: the one the system picked
        if lock:
            lock.acquire(config.port)
        app = build_app(config)

        class _Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                tune_gc()
                if banner and not self.should_exit:
                    banner(config)

        _Server(uvicorn_config(app, config)).run(sockets=[sock])
    finally:
        sock.close()
        if lock:
            lock.release()


def uvicorn_config(app: Starlette, config: ServeConfig) -> uvicorn.Config:
    import uvicorn

    from rtcli.server.httpproto import HttpProtocol

    # /v1/realtime is not an ASGI route: uvicorn hands every WebSocket upgrade to our own
    # protocol (server/realtime.py), which keeps an idle connection small and writes frames
    # without a task switch. REST stays on Starlette; both share the port. HttpProtocol is
    # uvicorn's own, answering unparsable requests in Appwrite's error shape.
    result = uvicorn.Config(
        app, host=config.host, port=config.port, ws=app.state.realtime.protocol,
        log_level=str(config.log_level) if config.log_level in ("debug", "error") else "warning",
        access_log=config.access_log,
        http=HttpProtocol, loop="auto", lifespan="on", timeout_graceful_shutdown=5,
        forwarded_allow_ips=config.forwarded_allow_ips,
    )
    if config.access_log:  # its lines are INFO records, under uvicorn's quieter level
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    return result


def tune_gc() -> None:
    """For the serving process, once started. What is alive then (modules, the app, caches)
    lives as long as the server: keep it out of the cyclic collector's full passes, which would
    rescan it all (~40 ms with 1,000 connections, landing in the middle of a fan-out: that was
    the p99 of delivery latency). Young collections run less often too: what a request or a
    fan-out allocates dies by reference counting; Python's defaults ran a full pass every
    ~70,000 net allocations."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 50)
