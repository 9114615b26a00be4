#!/usr/bin/env python3
"""The rtcli benchmark suite: each scenario against a fresh `rtcli serve` and a same-run reference.

    python scripts/bench.py                                  # everything, about 7 minutes
    python scripts/bench.py --only fanout-cluster            # 1 vs 3 nodes on PostgreSQL + Redis, ~2 min
    python scripts/bench.py --only writes-cluster            # writes: SQLite, PostgreSQL, 3 nodes, ~1 min
    python scripts/bench.py --only fanout,latency --json /tmp/bench.json
    python scripts/bench.py --commit HEAD --wait-idle 2.0    # a git snapshot, on a quiet machine
    python scripts/bench.py --only writes --profile /tmp/prof # py-spy the server while measuring

Scenarios (the targets are in docs/performance.md):

- fanout    one row event (REST write, SQLite commit, permission check) to N subscribers, at
            saturation: deliveries/s and server CPU per delivery, vs ``websockets.broadcast``
            (no DB, no auth) and a raw floor (frame bytes built once, ``transport.write``).
- latency   write-to-delivery at 10 events/s to 1,000 subscribers, p50/p99, timed by kernel
            receive timestamps; same references.
- idle      server RSS per held (connected + subscribed) connection; vs a websockets server and
            one ``asyncio.Protocol`` per connection.
- matching  in-process: Hub.dispatch (candidates + matching_ids + encode) of one event among
            100,000 subscriptions on 10,000 connections, no-op sinks, CPU time; vs a linear scan.
- writes    REST row creates/s with their events, concurrent clients, and server CPU per create;
            vs uvicorn + aiosqlite (same transaction) and uvicorn + sqlite3 (one thread hop).
- resume    10,000 missed events replayed to one client (``since: "beginning"``); vs a
            websockets send loop.
- cli       ``rtcli --help`` and a one-shot ``rtcli row create`` (median wall and CPU time).
- fanout-cluster  the fanout measurement (saturation, CPU per delivery) and write-to-delivery
            latency at ``--latency-rate``, on 1 node and on ``--cluster-nodes`` (3) nodes sharing
            one PostgreSQL database and one Redis: subscribers spread evenly over the nodes, writes
            to node 1; the ratio N nodes / 1 node, and the default SQLite node for context. CPU
            per node, of PostgreSQL's backends for the run's database and of Redis. Needs psql and
            PostgreSQL at ``--pg-url`` (a fresh ``rtcli_bench_<random>`` database per setup,
            dropped after) and Redis (a private redis-server, or ``--redis-url``); skipped, with
            the reason, otherwise. All nodes share the server CPU: with fewer CPUs than nodes + 2
            this measures coordination overhead, not scale-out (the output says so).
- topics    publish->delivery p50/p99 over the realtime publish path at ``--latency-rate``
            messages/s to ``--subscribers`` (durable and ephemeral topics), and REST publishes/s
            against REST row creates/s (``--writers`` clients) on the same server, same run.
- indexes   list a ``--index-rows`` table (100,000) with an indexed ``equal`` and with ``search`` on a
            fulltext index, on SQLite and on PostgreSQL (median of ``--index-reps`` requests;
            target < 20 ms), beside an ``equal`` on a column without an index.
- writes-cluster  REST row creates/s (``--writers`` spread over the nodes) on 1 SQLite node, 1
            PostgreSQL node and ``--cluster-nodes`` PostgreSQL + Redis nodes, same run: CPU of each
            process, µs of rtcli and of PostgreSQL CPU per create, PostgreSQL lock waits sampled
            from pg_stat_activity. Same requirements as fanout-cluster.

The load client is this process (see bench_client.py): one asyncio loop on uvloop with a
minimal WebSocket client and a minimal HTTP/1.1 client, cheaper per delivery than the server.
With 2+ CPUs the server runs on CPU 0 and this process on CPU 1 (``--no-pin`` to disable).
Server and client CPU, and the server's wait for a CPU, are reported, so a reader can tell who
saturated and whether other processes interfered. docs/performance.md explains the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shlex
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench_client import now
from benchmarks import cli, cluster, fanout, harness, idle, indexes, latency, matching, resume, topics, writes, writes_cluster
from benchmarks.harness import PIN, SCENARIOS, SERVE_CMD, Result, export_commit, machine, table, wait_for_quiet


async def _matching(args, workdir: Path) -> list[Result]:
    return matching.scenario_matching(args)  # in-process and synchronous: no server to start


# Each scenario by name, in the order they run.
SCENARIO_RUNNERS: dict[str, Callable[[argparse.Namespace, Path], Awaitable[list[Result]]]] = {
    "fanout": fanout.scenario_fanout,
    "latency": latency.scenario_latency,
    "idle": idle.scenario_idle,
    "matching": _matching,
    "writes": writes.scenario_writes,
    "resume": resume.scenario_resume,
    "cli": cli.scenario_cli,
    "fanout-cluster": cluster.scenario_fanout_cluster,
    "topics": topics.scenario_topics,
    "indexes": indexes.scenario_indexes,
    "writes-cluster": writes_cluster.scenario_writes_cluster,
}
assert tuple(SCENARIO_RUNNERS) == SCENARIOS


def main() -> None:
    ap = argparse.ArgumentParser(description="rtcli benchmark suite", formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    ap.add_argument("--subscribers", type=int, default=1000, help="fanout/latency subscribers (default 1000)")
    ap.add_argument("--fanout-window", type=int, default=16, help="events in flight at saturation (default 16)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring (fanout, writes)")
    ap.add_argument("--duration", type=float, default=6.0, help="measured seconds for fanout (default 6)")
    ap.add_argument("--repeat", type=int, default=2, help="fanout/writes runs per target, best kept (default 2)")
    ap.add_argument("--latency-rate", type=float, default=10.0, help="events/s in the latency scenario")
    ap.add_argument("--latency-clock", choices=["kernel", "user"], default="kernel",
                    help="time a delivery when it reaches the client socket (kernel receive timestamp, default) "
                    "or when the client's loop reads it (user)")
    ap.add_argument("--latency-duration", type=float, default=10.0, help="seconds of the latency scenario")
    ap.add_argument("--idle-connections", type=int, default=10000)
    ap.add_argument("--matching-connections", type=int, default=10000)
    ap.add_argument("--matching-subscriptions", type=int, default=10, help="per connection (default 10)")
    ap.add_argument("--matching-reps", type=int, default=200)
    ap.add_argument("--writers", type=int, default=16, help="concurrent HTTP clients for writes")
    ap.add_argument("--writes-duration", type=float, default=6.0)
    ap.add_argument("--resume-events", type=int, default=10000)
    ap.add_argument("--resume-runs", type=int, default=3)
    ap.add_argument("--cli-runs", type=int, default=7)
    ap.add_argument("--index-rows", type=int, default=100_000, help="indexes: rows in the table (default 100,000)")
    ap.add_argument("--index-reps", type=int, default=50, help="indexes: timed list requests per query (default 50)")
    ap.add_argument("--cluster-nodes", type=int, default=3, help="fanout-cluster: nodes of the cluster (default 3)")
    ap.add_argument("--cluster-repeat", type=int, default=2,
                    help="fanout-cluster: alternating runs of each setup, best kept (default 2, about 2 minutes)")
    ap.add_argument("--cluster-latency-duration", type=float, default=5.0,
                    help="fanout-cluster: seconds of latency at --latency-rate per setup (default 5)")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="fanout-cluster: a PostgreSQL database to run CREATE/DROP DATABASE rtcli_bench_<random> "
                    "from, with psql (default: %(default)s)")
    ap.add_argument("--redis-url", help="fanout-cluster: this Redis (default: a private redis-server on a free port, "
                    "or redis://127.0.0.1:6379 when redis-server is not installed)")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference runs")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and client to separate CPUs")
    ap.add_argument("--profile", type=Path, help="py-spy the rtcli server during fanout, writes and resume; raw stacks here")
    ap.add_argument("--wait-idle", type=float, metavar="LOAD",
                    help="before each scenario wait (up to 10 min) until the 1-minute load is below LOAD")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directories")
    ap.add_argument("--commit", metavar="REF", help="benchmark rtcli as committed at REF (git archive), not the "
                    "work tree")
    ap.add_argument("--serve-cmd", default=" ".join(SERVE_CMD),
                    help="how to start the server; rtcli serve's flags are appended (default: %(default)s)")
    args = ap.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    SERVE_CMD[:] = shlex.split(args.serve_cmd)
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")

    # File descriptors: 10,000 client sockets here and as many in the server (which inherits this).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.idle_connections + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < want and "idle" in only:
        print(f"warning: fd limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]} < {want}; idle may fail",
              file=sys.stderr)
    cpus = sorted(os.sched_getaffinity(0))
    if not args.no_pin and len(cpus) >= 2:
        PIN.server, PIN.client = {cpus[0]}, {cpus[1]}
        os.sched_setaffinity(0, PIN.client)
    workdir = Path(tempfile.mkdtemp(prefix="rtcli-bench-"))
    source = "work tree"
    if args.commit:
        harness.SRC, sha = export_commit(args.commit, workdir / "src")
        sys.path.insert(0, str(harness.SRC))  # the matching scenario imports rtcli.core in this process
        source = f"commit {sha}"
    info = machine()
    info["rtcli_source"] = source
    print(f"machine: {info['nproc']} CPUs ({info['cpu']}), load {' '.join(info['loadavg_at_start'])}, "
          f"Python {info['python']}, {info['pinning']}, rtcli from the {source}", file=sys.stderr)

    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass

    results: list[Result] = []
    loads: dict[str, float] = {}

    async def run() -> None:
        for name in SCENARIOS:
            if name not in only:
                continue
            if args.wait_idle:
                await wait_for_quiet(args.wait_idle)
            load = open("/proc/loadavg").read().split()[0]
            print(f"[{name}] (load {load})", file=sys.stderr)
            loads[name] = float(load)
            t = now()
            try:
                results.extend(await SCENARIO_RUNNERS[name](args, workdir))
            except Exception as e:  # report and go on with the other scenarios
                import traceback
                traceback.print_exc()
                results.append(Result(name, f"error: {e}", "", None, passed=False))
            print(f"  ({now() - t:.0f} s)", file=sys.stderr)

    try:
        asyncio.run(run())
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(results))
    print("\nratio = rtcli / reference. CPU of one core during rtcli's measured window (server / load client; "
          "server runnable but waiting for a CPU taken by other processes): " + "; ".join(
              f"{r.scenario} {d['server_cpu_pct']}% / {d['client_cpu_pct']}% (waited {d['server_cpu_wait_pct']}%)"
              for r in results for d in [r.details.get("rtcli")] if isinstance(d, dict) and "server_cpu_pct" in d))
    for r in results:
        if r.details.get("report"):
            print("\n" + r.details["report"])
    print(f"machine: {info['nproc']} CPUs, load at start {' '.join(info['loadavg_at_start'])}, Python {info['python']}, "
          f"{info['pinning']}, rtcli from the {source}")
    if args.json:
        info["loadavg_at_each_scenario"] = loads
        doc = {"machine": info, "command": " ".join(sys.argv), "results": [
            {"scenario": r.scenario, "metric": r.metric, "unit": r.unit, "rtcli": r.rtcli, "reference": r.reference,
             "reference_name": r.reference_name, "ratio": r.ratio, "target": r.target, "passed": r.passed,
             "details": r.details} for r in results]}
        args.json.write_text(json.dumps(doc, indent=2, default=str))
        print(f"\nJSON: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
