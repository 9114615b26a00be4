"""writes-cluster: REST row creates/s (each with its event)
on 1 SQLite node, 1 PostgreSQL node and N PostgreSQL + Redis nodes, in the same run; and two
setups that take the cluster's cost per create apart: 1 PostgreSQL node with the writers that
each node of the cluster has (``--writers`` / N: each node's smaller share of the writers), and
N PostgreSQL nodes without Redis, which learn of each other's events by reading the log once a
second (what N nodes on these cores cost when exchanging events costs next to nothing: the most
any way of waking the nodes could reach here).

The concurrent writers (``--writers``) are spread evenly over the nodes, and so are
``--cluster-nodes`` subscribers (all on the node of a one-node setup: every setup delivers each
create to as many subscribers), which count the events their node delivers. Reported per setup:
creates/s, the CPU of each process (as % of one core: each node, PostgreSQL's backends for the
run's database, Redis, the load client) and µs of CPU per create for rtcli and for PostgreSQL,
PostgreSQL transactions per create (each write, and each read of the log, is one:
``pg_stat_database``) and, from the nodes' /metrics, creates per create statement and log reads
per create, and how often PostgreSQL backends were waiting for a lock (``pg_stat_activity``
sampled every 20 ms: lock waits per sample, and the share of samples with any). Setups
alternate, ``--cluster-repeat`` runs each, best kept. ``--profile DIR``: py-spy on the first
node of each setup during the measured window.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

from bench_client import Agg, Http, ProcGroupUsage, now, open_subscribers
from benchmarks.cluster import CpuShares, _pg_admin, _psql, alternate_setups, bench_pg_database
from benchmarks.harness import ADMIN, CHANNEL, ROWS, RT_PATH, Profiler, Result, grid, ratio, row_body, setup_table, start_rtcli

SAMPLE_S = 0.02


async def _lock_waits(dsn_admin: str, dbname: str, stop: asyncio.Event) -> dict:
    """Sample the run's backends until ``stop``: how many wait for a lock (and on which kind)."""
    import asyncpg

    conn = await asyncpg.connect(dsn_admin)
    samples, waiting, any_wait, active = 0, 0, 0, 0
    kinds: collections.Counter = collections.Counter()
    try:
        while not stop.is_set():
            rows = await conn.fetch("SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                                    "WHERE datname = $1 AND pid <> pg_backend_pid()", dbname)
            samples += 1
            locked = [r for r in rows if r["wait_event_type"] == "Lock"]
            waiting += len(locked)
            any_wait += bool(locked)
            active += sum(1 for r in rows if r["state"] == "active")
            kinds.update(f"{r['wait_event_type']}:{r['wait_event']}" for r in rows
                         if r["state"] == "active" and r["wait_event_type"] not in (None, "Client"))
            await asyncio.sleep(SAMPLE_S)
    finally:
        await conn.close()
    n = max(samples, 1)
    return {"samples": samples, "lock_waiters_per_sample": round(waiting / n, 2),
            "samples_with_a_lock_wait_pct": round(100 * any_wait / n, 1),
            "active_backends_per_sample": round(active / n, 2),
            "waits_by_kind_per_sample": {k: round(v / n, 2) for k, v in kinds.most_common(6)}}


def _xacts(args, dbname: str | None) -> int:
    """Transactions the run's database has ended so far (each statement outside a transaction
    is one): per create, the writes' and the log reads' round trips that each open one."""
    if not dbname:
        return 0
    out = _psql(args, f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{dbname}'")
    return int(out.strip() or 0)


COUNTS = ("rtcli_create_statements_total", "rtcli_statement_creates_total", "rtcli_log_reads_total",
          "rtcli_log_views_total")


def _counts(ports: list[int]) -> collections.Counter:
    """The nodes' create statements, the creates they carried and their log reads, summed (/metrics)."""
    total: collections.Counter = collections.Counter()
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(COUNTS):
                    name, value = line.split()[:2]
                    total[name] += float(value)
    return total


async def _once(label: str, n_nodes: int, backend: str, redis, args, workdir: Path, writers: int) -> dict:
    """One setup: ``backend`` is "sqlite", "postgresql" (no broker: several nodes poll the log) or
    "postgresql+redis"."""
    nodes, watchers, conns = [], [], []
    dbname = None
    with contextlib.ExitStack() as stack:
        try:
            if backend == "sqlite":
                nodes.append(start_rtcli(workdir))
            else:
                dbname, dsn = stack.enter_context(bench_pg_database(args))
                shared = Path(tempfile.mkdtemp(prefix="wcluster-", dir=workdir))
                extra = ["--database", dsn] + (["--broker", redis.url] if backend.endswith("redis") else [])
                for _ in range(n_nodes):
                    nodes.append(start_rtcli(workdir, extra, shared=shared))
            await setup_table(nodes[0].port)
            per_node_agg = [Agg() for _ in nodes]
            # Every setup delivers each create to the same subscribers, ``--cluster-nodes`` of them:
            # one per node of the cluster, all on the one node otherwise. (With one subscriber per
            # node the cluster had three times the deliveries to make on the same core.)
            for i in range(args.cluster_nodes):
                watchers += await open_subscribers(nodes[i % n_nodes].port, RT_PATH, 1, per_node_agg[i % n_nodes],
                                                   CHANNEL)
            conns = [Http(nodes[i % n_nodes].port, ADMIN) for i in range(writers)]
            counts = collections.Counter()
            errors: collections.Counter = collections.Counter()
            state = {"measuring": False, "stop": False}
            seq = iter(range(10**9))

            async def client(i: int, h) -> None:
                while not state["stop"]:
                    k = next(seq)
                    status, body = await h.request("POST", ROWS, row_body(f"w{k:09d}", k))
                    if state["measuring"]:
                        if status == 201:
                            counts[i % n_nodes] += 1
                        else:
                            errors[f"{status} {body[:120]!r}"] += 1

            def discover() -> dict[str, int]:
                found = {"client": os.getpid()}
                found.update({f"node{i + 1}": node.pid for i, node in enumerate(nodes)})
                if backend.endswith("redis") and redis.pid:
                    found["redis"] = redis.pid
                if dbname:
                    for pid in _psql(args, f"SELECT pid FROM pg_stat_activity WHERE datname = '{dbname}'").split():
                        found[f"pg:{pid}"] = int(pid)
                return found

            tasks = [asyncio.ensure_future(client(i, h)) for i, h in enumerate(conns)]
            await asyncio.sleep(args.warmup)
            seen0 = [a.events for a in per_node_agg]
            stop_sampling = asyncio.Event()
            sampler = None
            if dbname:
                pg = _pg_admin(args)
                admin = f"postgresql://{pg['user']}@{pg['host']}:{pg['port']}/{pg['db']}"
                sampler = asyncio.ensure_future(_lock_waits(admin, dbname, stop_sampling))
            procs = ProcGroupUsage(discover)
            name = "writes-" + backend.replace("+", "-") + (f"-{n_nodes}" if n_nodes > 1 else "")
            prof = Profiler(args.profile, name, nodes[0].pid, args.writes_duration) if args.profile else None
            x0, c0 = _xacts(args, dbname), _counts([n.port for n in nodes])
            state["measuring"] = True
            t0 = now()
            await asyncio.sleep(args.writes_duration)
            state["measuring"] = False
            dt = now() - t0
            usage = procs.done()
            # Backends report their counts at most once a second: both ends lag alike.
            xacts = _xacts(args, dbname) - x0
            counted = _counts([n.port for n in nodes])
            counted.subtract(c0)
            stop_sampling.set()
            waits = await sampler if sampler else None
            seen = [a.events - s0 for a, s0 in zip(per_node_agg, seen0)]
            state["stop"] = True
            await asyncio.gather(*tasks)
            if prof:
                prof.finish()
        finally:
            for h in conns:
                h.close()
            for w in watchers:
                w.abort()
            for node in nodes:
                node.stop()

    rate = sum(counts.values()) / dt
    cpu = CpuShares.of(usage, n_nodes)
    node_cpu, nodes_pct, pg_pct, redis_pct = cpu.nodes, cpu.nodes_pct, cpu.postgres_pct, cpu.redis_pct

    def per_create(pct: float) -> float | None:  # µs of CPU per create, from % of a core
        return round(pct * 1e4 / rate, 1) if rate else None

    r = {"setup": label, "nodes": n_nodes, "backend": backend, "creates_per_s": round(rate, 1),
         "creates_per_node_per_s": [round(counts[i] / dt, 1) for i in range(n_nodes)],
         "events_delivered_per_node_per_s": [round(s / dt, 1) for s in seen], "errors": dict(errors),
         "writers": writers, "node_cpu_pct": [p.get("cpu_pct") for p in node_cpu],
         "node_cpu_wait_pct": [p.get("cpu_wait_pct") for p in node_cpu], "nodes_cpu_pct": nodes_pct,
         "postgres_cpu_pct": pg_pct, "redis_cpu_pct": redis_pct,
         "client_cpu_pct": cpu.client.get("cpu_pct"),
         "rtcli_us_per_create": per_create(nodes_pct), "postgres_us_per_create": per_create(pg_pct) if dbname else None,
         "redis_us_per_create": per_create(redis_pct) if backend.endswith("redis") else None,
         "postgres_xacts_per_create": round(xacts / sum(counts.values()), 2) if dbname and counts else None,
         "creates_per_statement": round(counted[COUNTS[1]] / counted[COUNTS[0]], 1) if counted[COUNTS[0]] else None,
         "log_reads_per_create": round(counted[COUNTS[2]] / sum(counts.values()), 3) if dbname and counts else None,
         # Log reads that also read pg_stat_activity (every read, before nodes took that view only when needed).
         "log_views_per_read": round(counted[COUNTS[3]] / counted[COUNTS[2]], 2) if counted[COUNTS[2]] else None,
         "lock_waits": waits, "processes": usage}
    print(f"  {label}: {rate:,.0f} creates/s ({' + '.join(f'{x:,.0f}' for x in r['creates_per_node_per_s'])}); "
          f"rtcli {r['rtcli_us_per_create']} us/create (nodes {' + '.join(f'{x}%' for x in r['node_cpu_pct'])}, "
          f"waited {' / '.join(f'{x}%' for x in r['node_cpu_wait_pct'])}), PostgreSQL {pg_pct}% = "
          f"{r['postgres_us_per_create']} us/create, {r['postgres_xacts_per_create']} transactions/create "
          f"({r['creates_per_statement']} creates/statement, {r['log_reads_per_create']} log reads/create, "
          f"{r['log_views_per_read']} with a view), "
          f"Redis {redis_pct}%, client {r['client_cpu_pct']}%; "
          f"lock waits {waits and waits['lock_waiters_per_sample']}/sample "
          f"({waits and waits['samples_with_a_lock_wait_pct']}% of samples); errors {sum(errors.values())}",
          file=sys.stderr)
    return r


def _report(setups, best: dict, runs: dict, note: str) -> str:
    head = ["setup", "creates/s", "rtcli CPU/create", "PG CPU/create", "PG xacts/create", "creates/statement",
            "CPU % per node (waited %)", "PostgreSQL %", "Redis %", "client %", "lock waits/sample"]
    rows = []
    for label, _, backend in setups:
        r = best[label]
        w = r["lock_waits"]
        rows.append([label, f"{r['creates_per_s']:,.0f} (runs: {', '.join(format(x['creates_per_s'], ',.0f') for x in runs[label])})",
                     f"{r['rtcli_us_per_create']} us",
                     f"{r['postgres_us_per_create']} us" if r["postgres_us_per_create"] is not None else "-",
                     r["postgres_xacts_per_create"] if r["postgres_xacts_per_create"] is not None else "-",
                     r.get("creates_per_statement") or "-",
                     " + ".join(f"{c} ({x})" for c, x in zip(r["node_cpu_pct"], r["node_cpu_wait_pct"])),
                     r["postgres_cpu_pct"] if backend != "sqlite" else "-",
                     r["redis_cpu_pct"] if backend.endswith("redis") else "-", r["client_cpu_pct"],
                     f"{w['lock_waiters_per_sample']} ({w['samples_with_a_lock_wait_pct']}%)" if w else "-"])
    sq, one, many, few, polled = (best[label] for label, _, _ in setups)
    return "\n".join([
        "writes-cluster (REST row creates with their events; CPU % of one core in the measured window)",
        *grid(head, rows),
        f"1 PostgreSQL node / SQLite node: {ratio(one['creates_per_s'], sq['creates_per_s'])} (target >= 0.8x); "
        f"{many['nodes']} nodes / 1 PostgreSQL node: {ratio(many['creates_per_s'], one['creates_per_s'])} "
        "(target >= 1.0x)",
        f"Of the {many['nodes']} nodes' extra rtcli CPU per create over 1 node ({_us(many) - _us(one):.0f} us): "
        f"{_us(few) - _us(one):.0f} us come with each node's share of the writers ({few['writers']} of "
        f"{one['writers']}: 1 node with {few['writers']} writers), {_us(polled) - _us(few):.0f} us with "
        f"{polled['nodes']} processes on these cores instead of one ({polled['nodes']} nodes without Redis, which "
        f"read each other's events once a second), {_us(many) - _us(polled):.0f} us with the Redis wake-ups and "
        "the reads they bring.",
        f"{polled['nodes']} nodes without Redis: {polled['creates_per_s']:,.0f} creates/s, "
        f"{ratio(polled['creates_per_s'], one['creates_per_s'])} one node: the most that any way of exchanging "
        "events between the nodes could reach on these cores.", note])


def _us(r: dict) -> float:
    return r["rtcli_us_per_create"] or 0.0


async def scenario_writes_cluster(args, workdir: Path) -> list[Result]:
    k = args.cluster_nodes
    # The fourth setup is one node with as many writers as each node of the cluster has: how much
    # of the cluster's cost per create comes from each node's smaller share of the writers.
    few = max(1, args.writers // k)
    few_label = f"PostgreSQL, 1 node, {few} writers"
    # The fifth is the cluster without Redis: the nodes find each other's events by polling the
    # log every second (a few big reads), so what remains is N nodes' own work on these cores.
    rounds = await alternate_setups(
        "writes-cluster", args, lambda redis: [("SQLite, 1 node", 1, "sqlite"), ("PostgreSQL, 1 node", 1, "postgresql"),
                                               (f"PostgreSQL + Redis, {k} nodes", k, "postgresql+redis"),
                                               (few_label, 1, "postgresql"),
                                               (f"PostgreSQL, {k} nodes, no Redis", k, "postgresql")],
        lambda label, n, backend, redis: _once(label, n, backend, redis, args, workdir,
                                               few if label == few_label else args.writers),
        "creates_per_s")
    if isinstance(rounds, list):
        return rounds
    setups, runs, best, note = rounds.setups, rounds.runs, rounds.best, rounds.note
    sq, one, many, _, polled = (best[label] for label, _, _ in setups)
    report = _report(setups, best, runs, note)
    details = {"rtcli": many, "reference": one, "sqlite": sq, "no_redis": polled, "report": report, "runs": runs,
               "note": note}
    ok = lambda r: r["errors"] == {}  # noqa: E731
    return [
        Result("writes-cluster", f"creates/s, 1 PostgreSQL node vs 1 SQLite node ({args.writers} writers)",
                 "creates/s", one["creates_per_s"], sq["creates_per_s"], "SQLite, 1 node", ">= 0.8x",
                 one["creates_per_s"] >= 0.8 * sq["creates_per_s"] and ok(one), "higher", details=details),
        Result("writes-cluster", f"creates/s, {k} PostgreSQL + Redis nodes vs 1 PostgreSQL node", "creates/s",
                 many["creates_per_s"], one["creates_per_s"], "PostgreSQL, 1 node", ">= 1.0x",
                 many["creates_per_s"] >= one["creates_per_s"] and ok(many), "higher"),
        Result("writes-cluster", "PostgreSQL CPU per create, 1 node", "us", one["postgres_us_per_create"], None,
                 "-", "-", None, "lower"),
        Result("writes-cluster", f"PostgreSQL CPU per create, {k} nodes", "us", many["postgres_us_per_create"],
                 one["postgres_us_per_create"], "1 node", "-", None, "lower"),
    ]
