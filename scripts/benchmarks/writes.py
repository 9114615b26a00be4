"""writes: REST row creates/s with their events from concurrent clients, and server CPU per create;
vs uvicorn + aiosqlite and uvicorn + sqlite3."""

from __future__ import annotations

import asyncio
import collections
import sys
from pathlib import Path

from bench_client import Agg, Http, Usage, now, open_subscribers
from benchmarks.fanout import _best
from benchmarks.harness import ADMIN, CHANNEL, Profiler, ROWS, RT_PATH, Result, row_body, setup_table, start_reference, start_rtcli


async def _writes_once(target: str, args, workdir: Path) -> dict:
    c, duration = args.writers, args.writes_duration
    srv = start_rtcli(workdir) if target == "rtcli" else start_reference(target, workdir)
    watcher = None
    try:
        agg = Agg()
        if target == "rtcli":
            await setup_table(srv.port)
            # One subscriber on the table: each create's event is dispatched and counted.
            watcher = (await open_subscribers(srv.port, RT_PATH, 1, agg, CHANNEL))[0]
        conns = [Http(srv.port, ADMIN) for _ in range(c)]
        path = ROWS if target == "rtcli" else "/rows"
        counts = {"ok": 0, "err": 0}
        errors: collections.Counter = collections.Counter()
        state = {"measuring": False, "stop": False}
        seq = iter(range(10**9))

        async def client(h: Http) -> None:
            while not state["stop"]:
                k = next(seq)
                status, body = await h.request("POST", path, row_body(f"r{k:09d}", k))
                if state["measuring"]:
                    if status == 201:
                        counts["ok"] += 1
                    else:
                        counts["err"] += 1
                        errors[f"{status} {body[:120]!r}"] += 1

        tasks = [asyncio.ensure_future(client(h)) for h in conns]
        await asyncio.sleep(args.warmup)
        ev0 = agg.events
        state["measuring"] = True
        usage = Usage(srv.pid)
        prof = Profiler(args.profile, "writes", srv.pid, duration) if target == "rtcli" else None
        t0 = now()
        await asyncio.sleep(duration)
        state["measuring"] = False
        dt = now() - t0
        use = usage.done()
        ev1 = agg.events
        state["stop"] = True
        await asyncio.gather(*tasks)
        if prof:
            prof.finish()
        for h in conns:
            h.close()
    finally:
        srv.stop()
        if watcher:
            watcher.abort()
    rate = counts["ok"] / dt
    r = {"creates_per_s": rate, "errors": counts["err"], "error_kinds": dict(errors), "writers": c,
         "events_seen_in_window": ev1 - ev0 if watcher else None,
         "server_us_per_create": round(use["server_cpu_pct"] * 1e4 / rate, 1) if rate else None, **use}
    print(f"  writes {target}: {rate:,.0f} creates/s, {r['server_us_per_create']} us server CPU each (server "
          f"{r['server_cpu_pct']}% CPU, client {r['client_cpu_pct']}%; server waited for a CPU "
          f"{r['server_cpu_wait_pct']}%)", file=sys.stderr)
    return r


async def scenario_writes(args, workdir: Path) -> list[Result]:
    targets = ["rtcli"] + ([] if args.no_reference else ["http", "http-one-hop"])
    runs: dict[str, list[dict]] = {t: [] for t in targets}
    for _ in range(args.repeat):
        for t in targets:
            runs[t].append(await _writes_once(t, args, workdir))
    out = {t: _best(rs, "creates_per_s") for t, rs in runs.items()}
    rt, ref, hop = out["rtcli"], out.get("http", {}), out.get("http-one-hop", {})
    return [
        Result("writes", f"REST row creates/s with events ({args.writers} clients)", "creates/s",
               rt["creates_per_s"], ref.get("creates_per_s"), "uvicorn+aiosqlite, same tx shape", ">= 2,000",
               rt["creates_per_s"] >= 2000 and rt["errors"] == 0, "higher",
               {"rtcli": rt, "reference": ref, "one_hop": hop}),
        Result("writes", "server CPU per create", "us", rt["server_us_per_create"], ref.get("server_us_per_create"),
               "uvicorn+aiosqlite", "<= 500 us (2,000/s on one core)",
               rt["server_us_per_create"] is not None and rt["server_us_per_create"] <= 500, "lower"),
        Result("writes", "  vs one executor call per transaction", "creates/s", rt["creates_per_s"],
               hop.get("creates_per_s"), "uvicorn+sqlite3, 1 thread hop/tx", "-", None),
    ]
