"""fanout-cluster: the fanout and latency measurements on 1 node and on N nodes sharing PostgreSQL
and Redis, with each process's CPU."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_client import WS, Agg, HttpPool, ProcGroupUsage, now, open_subscribers
from benchmarks.fanout import _best, _drive_closed_loop
from benchmarks.harness import (ADMIN, CHANNEL, PIN, ROWS, RT_PATH, Result, ServeProcess, grid, ratio, row_body, send_at_rate,
                                setup_table, start_rtcli)
from serve_process import free_port


# --- fanout-cluster: the same fan-out on 1 node and on N nodes sharing PostgreSQL + Redis -------


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _pg_admin(args) -> dict:
    """Host, port, user and the existing database (``--pg-url``) to run CREATE/DROP DATABASE from."""
    u = urllib.parse.urlsplit(args.pg_url)
    return {"host": u.hostname or "127.0.0.1", "port": u.port or 5432, "user": u.username or "postgres",
            "db": u.path.lstrip("/") or "postgres"}


def _psql(args, sql: str) -> str:
    pg = _pg_admin(args)
    out = subprocess.run(["psql", "-h", pg["host"], "-p", str(pg["port"]), "-U", pg["user"], "-d", pg["db"],
                          "-X", "-q", "-At", "-c", sql], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"psql: {out.stderr.strip()}")
    return out.stdout


@contextlib.contextmanager
def bench_pg_database(args):
    """A fresh database ``rtcli_bench_<random>`` for one setup (its own event log); dropped after."""
    pg = _pg_admin(args)
    name = "rtcli_bench_" + secrets.token_hex(5)
    _psql(args, f"CREATE DATABASE {name}")
    try:
        yield name, f"postgresql://{pg['user']}@{pg['host']}:{pg['port']}/{name}"
    finally:
        for _ in range(5):
            try:
                _psql(args, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                break
            except (RuntimeError, subprocess.TimeoutExpired):
                time.sleep(0.5)


@dataclass
class BenchRedis:
    url: str
    proc: subprocess.Popen | None = None  # a private redis-server this run started
    pid: int | None = None

    @classmethod
    def start(cls, args) -> BenchRedis:
        """``--redis-url`` if given; else a private ``redis-server`` (no persistence, its CPU is ours
        alone) when installed; else the one at 127.0.0.1:6379."""
        if args.redis_url:
            return cls(args.redis_url, pid=cls._server_pid(args.redis_url))
        exe = shutil.which("redis-server")
        if exe is None:
            return cls("redis://127.0.0.1:6379", pid=cls._server_pid("redis://127.0.0.1:6379"))
        port = free_port()
        all_cpus = os.sched_getaffinity(0) | set(PIN.server or ()) | set(PIN.client or ())
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: os.sched_setaffinity(0, all_cpus))  # not pinned, like PostgreSQL
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        return cls(f"redis://127.0.0.1:{port}", proc, proc.pid)

    @staticmethod
    def _server_pid(url: str) -> int | None:
        try:
            import redis
            r = redis.Redis.from_url(url, socket_timeout=2)
            pid = int(r.info("server")["process_id"])
            r.close()
            return pid if Path(f"/proc/{pid}").exists() else None
        except Exception:
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _cluster_unavailable(args) -> str | None:
    """Why the cluster setups cannot run here, or None."""
    pg = _pg_admin(args)
    if shutil.which("psql") is None:
        return "psql is not installed (it creates and drops the benchmark's PostgreSQL database)"
    if not _reachable(pg["host"], pg["port"]):
        return f"PostgreSQL is not reachable at {pg['host']}:{pg['port']} (--pg-url {args.pg_url})"
    try:
        _psql(args, "SELECT 1")
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return f"PostgreSQL at {pg['host']}:{pg['port']} refused psql: {e}"
    if args.redis_url:
        u = urllib.parse.urlsplit(args.redis_url)
        if not _reachable(u.hostname or "127.0.0.1", u.port or 6379):
            return f"Redis is not reachable at {args.redis_url}"
    elif shutil.which("redis-server") is None and not _reachable("127.0.0.1", 6379):
        return "Redis is not reachable at 127.0.0.1:6379 and redis-server is not installed"
    return None


async def _cluster_once(label: str, n_nodes: int, redis: BenchRedis | None, args, workdir: Path) -> dict:
    """One setup: ``n_nodes`` nodes (on PostgreSQL + ``redis``; or the default SQLite node when
    ``redis`` is None), the subscribers spread evenly over the nodes, every write to node 1.
    First the fan-out at saturation (as ``fanout``), then write->delivery latency at
    ``--latency-rate`` events/s on the same subscribers."""
    n, window = args.subscribers, args.fanout_window
    nodes: list[ServeProcess] = []
    subs_by_node: list[list[WS]] = []
    pool = None
    dbname = None
    with contextlib.ExitStack() as stack:
        try:
            if redis is None:
                nodes.append(start_rtcli(workdir))
            else:
                dbname, dsn = stack.enter_context(bench_pg_database(args))
                shared = Path(tempfile.mkdtemp(prefix="cluster-", dir=workdir))  # one --data-dir, as documented
                for _ in range(n_nodes):
                    nodes.append(start_rtcli(workdir, ["--database", dsn, "--broker", redis.url], shared=shared))
            await setup_table(nodes[0].port)
            agg = Agg()
            counts = [n // n_nodes + (1 if i < n % n_nodes else 0) for i in range(n_nodes)]
            subs_by_node = list(await asyncio.gather(*(
                open_subscribers(node.port, RT_PATH, c, agg, CHANNEL, kernel_time=args.latency_clock == "kernel")
                for node, c in zip(nodes, counts))))
            pool = HttpPool(nodes[0].port, window, ADMIN)
            errors: collections.Counter = collections.Counter()

            async def publish(k: int) -> None:
                status, _ = await pool.request("POST", ROWS, row_body(f"f{k:09d}", k))
                if status != 201:
                    errors[status] += 1

            def discover() -> dict[str, int]:
                found = {"client": os.getpid()}
                found.update({f"node{i + 1}": node.pid for i, node in enumerate(nodes)})
                if redis is not None and redis.pid:
                    found["redis"] = redis.pid
                if dbname:  # the backends serving this database (the pools of all nodes)
                    for pid in _psql(args, f"SELECT pid FROM pg_stat_activity WHERE datname = '{dbname}'").split():
                        found[f"pg:{pid}"] = int(pid)
                return found

            sat = await _drive_closed_loop(publish, agg, n, window, args.warmup, args.duration, nodes[0].pid,
                                           group=lambda: ProcGroupUsage(discover))
            sat_procs = sat.pop("processes")

            # Latency at a fixed rate (as ``latency``), after the saturation run has drained.
            await asyncio.sleep(0.5)
            rate, count = args.latency_rate, max(1, int(args.latency_rate * args.cluster_latency_duration))

            async def timed(k: int, rid: str) -> None:
                agg.t0[rid.encode()] = now()
                status, body = await pool.request("POST", ROWS, row_body(rid, k))
                if status != 201:
                    errors[status] += 1

            procs = ProcGroupUsage(discover)
            timing = await send_at_rate(agg, timed, rate, count, n)
            lat_procs = procs.done()

            per_node_deliveries = [sum(s.events for s in group) for group in subs_by_node]
            closed = sum(1 for group in subs_by_node for s in group if s.closed.done())
        finally:
            if pool is not None:
                pool.close()
            for group in subs_by_node:
                for s in group:
                    s.abort()
            for node in nodes:
                node.stop()
        # (leaving the ExitStack drops the database, after the nodes have stopped)

    d = sat["deliveries_per_s"]
    cpu, lat_cpu = CpuShares.of(sat_procs, n_nodes), CpuShares.of(lat_procs, n_nodes)
    node_cpu, nodes_pct, pg_pct, redis_pct = cpu.nodes, cpu.nodes_pct, cpu.postgres_pct, cpu.redis_pct
    r = {"setup": label, "nodes": n_nodes, "backend": "sqlite" if redis is None else "postgresql+redis",
         "deliveries_per_s": d, "events_per_s": sat["events_per_s"], "window_s": sat["window_s"],
         "events_published": sat["events_published"], "all_delivered": sat["all_delivered"],
         "subscribers": n, "subscribers_per_node": counts, "deliveries_per_node": per_node_deliveries,
         "window": window, "http_errors": dict(errors), "closed_connections": closed,
         "node_cpu_pct": [p.get("cpu_pct") for p in node_cpu],
         "node_sys_pct": [p.get("sys_pct") for p in node_cpu],
         "node_cpu_wait_pct": [p.get("cpu_wait_pct") for p in node_cpu],
         "nodes_cpu_pct": nodes_pct, "postgres_cpu_pct": pg_pct, "redis_cpu_pct": redis_pct,
         "postgres_backends": sorted(k for k in sat_procs if k.startswith("pg:")),
         "client_cpu_pct": cpu.client.get("cpu_pct"), "client_cpu_wait_pct": cpu.client.get("cpu_wait_pct"),
         "nodes_us_per_delivery": round(nodes_pct * 1e4 / d, 2),
         "total_us_per_delivery": round((nodes_pct + pg_pct + redis_pct) * 1e4 / d, 2),
         "processes_saturation": sat_procs,
         "latency": {"rate": rate, "events": count, **timing.summary(), "delivery_clock": args.latency_clock,
                     "nodes_cpu_pct": lat_cpu.nodes_pct, "postgres_cpu_pct": lat_cpu.postgres_pct,
                     "redis_cpu_pct": lat_cpu.redis_pct, "processes": lat_procs}}
    lt = r["latency"]
    print(f"  {label}: {d:,.0f} deliveries/s; rtcli CPU {r['nodes_us_per_delivery']} us/delivery "
          f"(nodes {' + '.join(f'{x}%' for x in r['node_cpu_pct'])}, waited "
          f"{' / '.join(f'{x}%' for x in r['node_cpu_wait_pct'])}), with PostgreSQL {pg_pct}% and Redis "
          f"{redis_pct}%: {r['total_us_per_delivery']} us/delivery; client {r['client_cpu_pct']}%; "
          f"latency p50 {lt['p50_ms']} ms p99 {lt['p99_ms']} ms ({lt['missing']} missing)", file=sys.stderr)
    return r


@dataclass
class CpuShares:
    """A cluster's CPU in a window (``ProcGroupUsage``), as % of one core: each node, all nodes,
    PostgreSQL's backends for the run's database, Redis, and the load client."""

    nodes: list[dict]  # per node: cpu_pct, sys_pct, cpu_wait_pct ({} if it was not measured)
    nodes_pct: float
    postgres_pct: float
    redis_pct: float
    client: dict

    @classmethod
    def of(cls, procs: dict, n_nodes: int) -> CpuShares:
        def share(prefix: str) -> float:
            return round(sum(v["cpu_pct"] for k, v in procs.items() if k.startswith(prefix) and v), 1)

        nodes = [procs.get(f"node{i + 1}") or {} for i in range(n_nodes)]
        return cls(nodes, round(sum(p.get("cpu_pct", 0) for p in nodes), 1), share("pg:"), share("redis"),
                   procs.get("client") or {})


def _two_cores_note(n_nodes: int) -> str:
    cpus = len(os.sched_getaffinity(0) | set(PIN.server or ()) | set(PIN.client or ()))
    where = (f"every rtcli node runs on CPU {sorted(PIN.server)} (the load client on CPU {sorted(PIN.client or [])}; "
             "PostgreSQL and Redis are not pinned), so the nodes share the one core that the single node has"
             if PIN.server else "nothing is pinned, so nodes, load client, PostgreSQL and Redis share the CPUs")
    if cpus >= n_nodes + 2:
        return f"{cpus} CPUs: {where}."
    return (f"NOTE: this machine has {cpus} CPUs: {where}. {n_nodes} nodes on {cpus} cores measure what "
            f"{n_nodes} processes taking turns on the same cores cost, with the coordination between them "
            f"(a Redis wake-up, every node reading each event back from the PostgreSQL log), not a real "
            f"scale-out, which needs a core per node besides the load client's and the database's.")


@dataclass
class Rounds:
    """A cluster scenario's setups, each run ``--cluster-repeat`` times in alternation, and the
    best run of each; the note on the machine's cores; the Redis they shared."""

    setups: list[tuple[str, int, Any]]  # (label, nodes, what else the setup takes)
    runs: dict[str, list[dict]]
    best: dict[str, dict]
    note: str
    redis: BenchRedis


async def alternate_setups(scenario: str, args, setups_of: Callable[[BenchRedis], list[tuple[str, int, Any]]],
                           once: Callable[[str, int, Any, BenchRedis], Awaitable[dict]], best_by: str
                           ) -> Rounds | list[Result]:
    """Run ``once(label, nodes, what, redis)`` for each setup, alternating, with a Redis for them
    all; the result skipped (with the reason) without PostgreSQL, psql or Redis."""
    why = _cluster_unavailable(args)
    if why:
        print(f"  {scenario} skipped: {why}", file=sys.stderr)
        return [Result(scenario, f"skipped: {why}", "", None, details={"skipped": why})]
    note = _two_cores_note(args.cluster_nodes)
    print(f"  {note}", file=sys.stderr)
    redis = BenchRedis.start(args)
    setups = setups_of(redis)
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in setups}
    try:
        for _ in range(args.cluster_repeat):
            for label, nodes, what in setups:
                runs[label].append(await once(label, nodes, what, redis))
    finally:
        redis.stop()
    return Rounds(setups, runs, {label: _best(rs, best_by) for label, rs in runs.items()}, note, redis)


async def scenario_fanout_cluster(args, workdir: Path) -> list[Result]:
    """The ``fanout`` measurement on 1 node and on ``--cluster-nodes`` nodes on one PostgreSQL
    database + Redis (subscribers spread evenly, writes to node 1), and the default SQLite node for
    context; alternating, best of ``--cluster-repeat`` by deliveries/s."""
    k = args.cluster_nodes
    rounds = await alternate_setups(
        "fanout-cluster", args, lambda redis: [("SQLite, 1 node (default)", 1, None), ("PostgreSQL + Redis, 1 node", 1, redis),
                                               (f"PostgreSQL + Redis, {k} nodes", k, redis)],
        lambda label, nodes, broker, redis: _cluster_once(label, nodes, broker, args, workdir), "deliveries_per_s")
    if isinstance(rounds, list):
        return rounds
    setups, runs, best, note, redis = rounds.setups, rounds.runs, rounds.best, rounds.note, rounds.redis
    sq, one, many = (best[label] for label, _, _ in setups)
    for b, label in ((sq, setups[0][0]), (one, setups[1][0]), (many, setups[2][0])):
        b["latency_all_runs_p50_p99_ms"] = [(r["latency"]["p50_ms"], r["latency"]["p99_ms"]) for r in runs[label]]
    redis_kind = "private redis-server" if redis.proc else redis.url
    report = _cluster_report(setups, best, k, note, redis_kind)
    n = args.subscribers
    details = {"rtcli": many, "reference": one, "sqlite": sq, "report": report, "note": note, "redis": redis_kind,
               "runs": runs}
    rate = f"{args.latency_rate:g} ev/s"
    return [
        Result("fanout-cluster", f"deliveries/s, 1 event -> {n:,} subs, {k} nodes vs 1", "deliveries/s",
               many["deliveries_per_s"], one["deliveries_per_s"], "1 node, PostgreSQL + Redis", "-", None,
               details=details),
        Result("fanout-cluster", f"rtcli CPU per delivery (all nodes), {k} nodes vs 1", "us",
               many["nodes_us_per_delivery"], one["nodes_us_per_delivery"], "1 node", "-", None, "lower"),
        Result("fanout-cluster", f"  + PostgreSQL + Redis CPU per delivery, {k} nodes vs 1", "us",
               many["total_us_per_delivery"], one["total_us_per_delivery"], "1 node", "-", None, "lower"),
        Result("fanout-cluster", f"p50 write->delivery, {rate}, {k} nodes vs 1", "ms",
               many["latency"]["p50_ms"], one["latency"]["p50_ms"], "1 node", "-", None, "lower"),
        Result("fanout-cluster", f"p99 write->delivery, {rate}, {k} nodes vs 1", "ms",
               many["latency"]["p99_ms"], one["latency"]["p99_ms"], "1 node", "-", None, "lower"),
        Result("fanout-cluster", "deliveries/s, 1 node: PostgreSQL + Redis vs SQLite", "deliveries/s",
               one["deliveries_per_s"], sq["deliveries_per_s"], "SQLite, 1 node (context)", "-", None),
    ]


def _cluster_report(setups, best: dict, k: int, note: str, redis_kind: str) -> str:
    head = ["setup", "deliveries/s", "rtcli CPU/delivery", "+ PG + Redis", "CPU % per node (waited %)",
            "PostgreSQL %", "Redis %", "client %", "p50 / p99 at rate"]
    rows = []
    for label, _, broker in setups:
        b = best[label]
        lt = b["latency"]
        rows.append([label, f"{b['deliveries_per_s']:,.0f}", f"{b['nodes_us_per_delivery']:.1f} us",
                     f"{b['total_us_per_delivery']:.1f} us" if broker else "(in process)",
                     " + ".join(f"{c} ({w})" for c, w in zip(b["node_cpu_pct"], b["node_cpu_wait_pct"])),
                     f"{b['postgres_cpu_pct']}" if broker else "-", f"{b['redis_cpu_pct']}" if broker else "-",
                     f"{b['client_cpu_pct']}", f"{lt['p50_ms']} / {lt['p99_ms']} ms"])
    one, many = best[setups[1][0]], best[setups[2][0]]
    out = [f"fanout-cluster ({redis_kind}; CPU % of one core in the saturated window; latency at the fixed rate)",
           *grid(head, rows),
           f"{k} nodes / 1 node (PostgreSQL + Redis): deliveries/s {ratio(many['deliveries_per_s'], one['deliveries_per_s'])}, "
           f"rtcli CPU per delivery {ratio(many['nodes_us_per_delivery'], one['nodes_us_per_delivery'])}, "
           f"with PostgreSQL + Redis {ratio(many['total_us_per_delivery'], one['total_us_per_delivery'])}, "
           f"latency p50 {ratio(many['latency']['p50_ms'], one['latency']['p50_ms'])}, "
           f"p99 {ratio(many['latency']['p99_ms'], one['latency']['p99_ms'])}", note]
    return "\n".join(out)
