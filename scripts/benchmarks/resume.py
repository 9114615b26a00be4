"""resume: missed events replayed to one client (``since: "beginning"``); vs a websockets send loop."""

from __future__ import annotations

import asyncio
import statistics
import sys
from pathlib import Path

from bench_client import Agg, Http, Usage, now, open_ws, sub_message
from benchmarks.harness import ADMIN, CHANNEL, Profiler, ROWS, RT_PATH, Result, SAMPLE, ref_frame, setup_table, start_reference, start_rtcli


async def scenario_resume(args, workdir: Path) -> list[Result]:
    total = args.resume_events
    out = {}
    for target in ("rtcli", "reference"):
        if target == "reference" and args.no_reference:
            break
        srv = start_rtcli(workdir) if target == "rtcli" else start_reference("ws", workdir)
        try:
            if target == "rtcli":
                await setup_table(srv.port)
                h = Http(srv.port, ADMIN)
                t = now()
                for b in range(0, total, 1000):
                    rows = [{"$id": f"m{k:09d}", "n": k, "text": "the quick brown fox jumps over the lazy dog"}
                            for k in range(b, min(total, b + 1000))]
                    status, body = await h.request("POST", ROWS, {"rows": rows})
                    if status != 201:
                        raise RuntimeError(f"bulk create failed: {status} {body[:300]!r}")
                fill_s = now() - t
                h.close()
            times = []
            for i in range(args.resume_runs):
                agg = Agg()
                prof = None
                if target == "rtcli":
                    ws = await open_ws(srv.port, RT_PATH, agg)
                    await ws.recv()
                    ws.keep = 1
                    if args.profile and i == 0:
                        prof = Profiler(args.profile, "resume", srv.pid, 3)
                        await asyncio.sleep(0.5)  # py-spy attaching
                    usage = Usage(srv.pid)
                    t = now()
                    ws.send_text(sub_message(CHANNEL, since="beginning"))
                else:
                    ws = await open_ws(srv.port, f"/replay?n={total}", agg)
                    usage = Usage(srv.pid)
                    t = now()
                    ws.send_text(ref_frame("m000000000"))
                await asyncio.wait_for(agg.until(total), 60)
                times.append(now() - t)
                use = usage.done()
                if prof:
                    prof.finish()
                if target == "rtcli" and "frame" not in SAMPLE:
                    SAMPLE["frame"], SAMPLE["rid"] = ws.kept[0], "m000000000"
                ws.abort()
                await asyncio.sleep(0.2)
            out[target] = {"seconds_median": statistics.median(times), "runs": [round(x, 4) for x in times],
                           "events": total, **use}
            if target == "rtcli":
                out[target]["fill_seconds"] = round(fill_s, 2)
        finally:
            srv.stop()
        print(f"  resume {target}: {out[target]['seconds_median'] * 1000:.0f} ms for {total:,} events",
              file=sys.stderr)
    rt, ref = out["rtcli"], out.get("reference", {})
    return [Result("resume", f"replay {total:,} missed events to one client", "ms", rt["seconds_median"] * 1000,
                   ref["seconds_median"] * 1000 if ref else None, "websockets send loop, no DB", "< 1000 ms",
                   rt["seconds_median"] < 1 if total >= 10000 else None, "lower", {"rtcli": rt, "reference": ref})]
