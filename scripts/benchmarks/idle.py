"""idle: server RSS per held (connected + subscribed) connection; vs a websockets server and one
``asyncio.Protocol`` per connection."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench_client import WS, Agg, now, open_subscribers, rss_bytes
from benchmarks.harness import CHANNEL, RT_PATH, Result, start_reference, start_rtcli


async def scenario_idle(args, workdir: Path) -> list[Result]:
    total = args.idle_connections
    warm = min(100, total // 10)
    out = {}
    targets = ["rtcli"] + ([] if args.no_reference else ["reference", "proto"])
    for target in targets:
        srv = start_rtcli(workdir) if target == "rtcli" else start_reference(
            "ws" if target == "reference" else "proto", workdir)
        agg = Agg()
        subs: list[WS] = []
        try:
            path = RT_PATH if target == "rtcli" else "/sub"
            subs += await open_subscribers(srv.port, path, warm, agg, CHANNEL)
            await asyncio.sleep(1)
            rss0 = rss_bytes(srv.pid)
            t = now()
            subs += await open_subscribers(srv.port, path, total - warm, agg, CHANNEL, progress=f"idle {target}")
            connect_s = now() - t
            await asyncio.sleep(2)
            rss1 = rss_bytes(srv.pid)
            alive = sum(1 for s in subs if not s.closed.done())
            per = (rss1 - rss0) / (total - warm)
            out[target] = {"bytes_per_connection": per, "rss_before_mb": round(rss0 / 2**20, 1),
                           "rss_after_mb": round(rss1 / 2**20, 1), "connections": total, "alive": alive,
                           "connect_rate_per_s": round((total - warm) / connect_s)}
        finally:
            srv.stop()
            for s in subs:
                s.abort()
        print(f"  idle {target}: {out[target]['bytes_per_connection'] / 1024:.1f} KiB/connection "
              f"({out[target]['alive']} alive, {out[target]['connect_rate_per_s']} connects/s)", file=sys.stderr)
        await asyncio.sleep(0.5)
    rt, ref, proto = out["rtcli"], out.get("reference", {}), out.get("proto", {})
    kib = rt["bytes_per_connection"] / 1024
    return [Result("idle", f"server RSS per idle connection ({total:,} held)", "KiB", kib,
                   ref.get("bytes_per_connection", 0) / 1024 or None, "websockets asyncio server", "<= 8 KiB",
                   (kib <= 8 and rt["alive"] == total) if total >= 10000 else None, "lower",
                   {"rtcli": rt, "reference": ref, "proto": proto}),
            Result("idle", "  vs one asyncio.Protocol per connection", "KiB", kib,
                   proto.get("bytes_per_connection", 0) / 1024 or None, "Protocol + sans-I/O websockets", "-", None,
                   "lower")]
