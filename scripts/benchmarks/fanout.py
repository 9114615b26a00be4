"""fanout: one row event (REST write, SQLite commit, permission check) to N subscribers at saturation;
deliveries/s and server CPU per delivery, vs ``websockets.broadcast`` and a raw floor."""

from __future__ import annotations

import asyncio
import collections
import sys
from pathlib import Path

from bench_client import WS, Agg, Http, HttpPool, Usage, now, open_subscribers, open_ws, rss_bytes
from benchmarks.harness import (ADMIN, CHANNEL, ROWS, RT_PATH, SAMPLE, Profiler, Result, ref_frame, row_body, setup_table,
                                start_reference, start_rtcli)


async def _drive_closed_loop(publish, agg: Agg, n_subs: int, window: int, warmup: float, duration: float,
                             server_pid: int, profile: Profiler | None = None, prof_args=None,
                             group=None) -> dict:
    """Publish events so that at most ``window`` are not yet delivered to all subscribers;
    measure deliveries in the window after ``warmup``. ``group``: a ProcGroupUsage factory, for
    the CPU of more processes than the server (the nodes of a cluster, PostgreSQL, Redis)."""
    k = 0
    tasks: set = set()
    t_start = now()
    measure_at, end_at = t_start + warmup, t_start + warmup + duration
    snap = None
    usage = procs = None
    while True:
        t = now()
        if snap is None and t >= measure_at:
            snap = (t, agg.events, k)
            usage = Usage(server_pid)
            procs = group() if group else None
            if prof_args:
                profile = Profiler(*prof_args)
        if t >= end_at:
            break
        need = (k - window + 1) * n_subs
        if agg.events < need:
            try:
                await asyncio.wait_for(agg.until(need), 10)
            except TimeoutError:
                raise RuntimeError(f"fan-out stalled: {agg.events} of {need} deliveries") from None
            continue
        task = asyncio.ensure_future(publish(k))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        k += 1
    t1, ev1 = now(), agg.events
    use = usage.done()
    if procs is not None:
        use["processes"] = procs.done()
    t0, ev0, k0 = snap
    if tasks:
        await asyncio.gather(*tasks)
    try:
        await asyncio.wait_for(agg.until(k * n_subs), 15)
        drained = True
    except TimeoutError:
        drained = False
    prof_path = profile.finish() if profile else None
    deliveries = ev1 - ev0
    return {"deliveries_per_s": deliveries / (t1 - t0), "events_per_s": deliveries / n_subs / (t1 - t0),
            "window_s": round(t1 - t0, 2), "events_published": k, "all_delivered": drained,
            "profile": prof_path, **use}


async def fanout_counters(port: int) -> dict[str, float]:
    """rtcli's fan-out counters from /metrics (empty when the server has none)."""
    h = Http(port)
    try:
        status, body = await h.request("GET", "/metrics")
    finally:
        h.close()
    out = {}
    for line in body.decode(errors="replace").splitlines():
        name, _, value = line.partition(" ")
        if name in ("rtcli_deliveries_total", "rtcli_fanout_writes_total"):
            out[name] = float(value)
    return out


async def _fanout_once(target: str, args, workdir: Path) -> dict:
    """One saturation run: ``rtcli`` (REST writes), ``reference`` (websockets.broadcast) or ``raw``
    (the frame bytes built once, then ``transport.write`` per connection: Python's floor)."""
    n, window = args.subscribers, args.fanout_window
    srv = start_rtcli(workdir) if target == "rtcli" else start_reference("ws", workdir)
    agg = Agg()
    errors: collections.Counter = collections.Counter()
    subs: list[WS] = []
    try:
        if target == "rtcli":
            await setup_table(srv.port)
        subs = await open_subscribers(srv.port, RT_PATH if target == "rtcli" else "/sub", n, agg, CHANNEL)
        subs[0].keep = 1
        if target == "rtcli":
            pool = HttpPool(srv.port, window, ADMIN)

            async def publish(k: int) -> None:
                status, _ = await pool.request("POST", ROWS, row_body(f"f{k:09d}", k))
                if status != 201:
                    errors[status] += 1
        else:
            control = await open_ws(srv.port, "/control" if target == "reference" else "/control-raw", Agg())

            async def publish(k: int) -> None:
                control.send_text(ref_frame(f"f{k:09d}"))
        prof = (args.profile, "fanout", srv.pid, args.duration) if target == "rtcli" and args.profile else None
        counters0 = await fanout_counters(srv.port) if target == "rtcli" else None
        r = await _drive_closed_loop(publish, agg, n, window, args.warmup, args.duration, srv.pid, prof_args=prof)
        if target == "rtcli":
            SAMPLE["frame"], SAMPLE["rid"] = subs[0].kept[0], "f000000000"
            pool.close()
            counters1 = await fanout_counters(srv.port)
            writes = counters1.get("rtcli_fanout_writes_total", 0) - counters0.get("rtcli_fanout_writes_total", 0)
            frames = counters1.get("rtcli_deliveries_total", 0) - counters0.get("rtcli_deliveries_total", 0)
            # Several events committed in one turn of the server's loop reach a connection in one
            # socket write (the whole run, warm-up included).
            r["frames_per_write"] = round(frames / writes, 2) if writes else None
        r.update(subscribers=n, window=window, http_errors=dict(errors),
                 closed_connections=sum(1 for s in subs if s.closed.done()),
                 frame_bytes=len(SAMPLE.get("frame", b"")), server_rss_mb=round(rss_bytes(srv.pid) / 2**20, 1),
                 server_us_per_delivery=round(r["server_cpu_pct"] * 1e4 / r["deliveries_per_s"], 2))
    finally:
        srv.stop()
        for s in subs:
            s.abort()
    coalesced = f", {r['frames_per_write']} frames per socket write" if r.get("frames_per_write") else ""
    print(f"  fanout {target}: {r['deliveries_per_s']:,.0f} deliveries/s{coalesced}, {r['server_us_per_delivery']} us server "
          f"CPU each (server {r['server_cpu_pct']}% CPU, {r['server_sys_pct']}% of it kernel; client "
          f"{r['client_cpu_pct']}%; server waited for a CPU {r['server_cpu_wait_pct']}%)", file=sys.stderr)
    return r


def _best(runs: list[dict], key: str, higher: bool = True) -> dict:
    best = (max if higher else min)(runs, key=lambda r: r[key])
    return {**best, "all_runs": [round(r[key], 2) for r in runs]}


async def scenario_fanout(args, workdir: Path) -> list[Result]:
    """Best of ``--repeat`` alternating runs (the machine may be shared: see cpu_wait)."""
    targets = ["rtcli"] + ([] if args.no_reference else ["reference", "raw"])
    runs: dict[str, list[dict]] = {t: [] for t in targets}
    for _ in range(args.repeat):
        for t in targets:
            runs[t].append(await _fanout_once(t, args, workdir))
    out = {t: _best(rs, "deliveries_per_s") for t, rs in runs.items()}
    rt, ref, raw = out["rtcli"], out.get("reference", {}), out.get("raw", {})
    n = args.subscribers
    return [
        Result("fanout", f"deliveries/s, 1 event -> {n:,} subs", "deliveries/s", rt["deliveries_per_s"],
               ref.get("deliveries_per_s"), "websockets.broadcast, no DB/auth", ">= 1x ceiling",
               rt["deliveries_per_s"] >= ref["deliveries_per_s"] if ref else None,
               details={"rtcli": rt, "reference": ref, "raw": raw}),
        Result("fanout", "server CPU per delivery", "us", rt["server_us_per_delivery"],
               ref.get("server_us_per_delivery"), "websockets.broadcast", "-", None, "lower"),
        Result("fanout", "deliveries/s vs the raw floor", "deliveries/s", rt["deliveries_per_s"],
               raw.get("deliveries_per_s"), "prebuilt frame, transport.write", "-", None),
    ]
