"""topics: publish-to-delivery latency over the realtime publish path, and REST publishes/s
against REST row creates/s on the same server in the same run.

- latency: one API-key connection publishes (``publish`` frames, ``self: false``) at
  ``--latency-rate`` messages/s to a topic that ``--subscribers`` connections subscribe to
  (10 x 1,000 = 10,000 deliveries/s by default), once for a durable topic (each message
  committed to the log first) and once for an ephemeral one (straight to the broker); p50/p99
  from the publish frame's send to each delivery, timed by kernel receive timestamps.
- writes: ``--writers`` concurrent keep-alive clients for ``--writes-duration`` seconds each:
  row creates (table validation, row + event in one transaction), then durable topic messages
  (event only), then ephemeral ones (no transaction); one subscriber each, so every event is
  dispatched as in production.
- service CPU: the same three use cases called in this process, without HTTP, on a real SQLite
  store: CPU time per call, the figure other processes' load disturbs least.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench_client import Agg, Http, Usage, now, open_subscribers, open_ws
from benchmarks.harness import ADMIN, API_KEY, CHANNEL, ROWS, RT_PATH, Result, row_body, send_at_rate, setup_table, start_rtcli

TEXT = "the quick brown fox jumps over the lazy dog"
TOPICS = {"durable": "bench-durable", "ephemeral": "bench-ephemeral"}


async def _setup_topics(port: int) -> None:
    h = Http(port, ADMIN)
    for mode, tid in TOPICS.items():
        status, out = await h.request("POST", "/v1/topics", {"topicId": tid, "mode": mode,
                                                             "permissions": ['read("any")']})
        if status != 201:
            raise RuntimeError(f"topic {tid}: {status} {out[:300]!r}")
    h.close()


def _publish_frame(topic: str, mid: str, k: int) -> bytes:
    return orjson.dumps({"type": "publish", "data": {"topic": topic, "messageId": mid, "self": False,
                                                     "data": {"n": k, "text": TEXT}}})


async def _latency(srv, mode: str, args) -> dict:
    n, rate, duration = args.subscribers, args.latency_rate, args.latency_duration
    topic, port = TOPICS[mode], srv.port
    agg = Agg()
    subs = await open_subscribers(port, RT_PATH, n, agg, f"topics.{topic}", kernel_time=args.latency_clock == "kernel")
    publisher = await open_ws(port, RT_PATH, Agg(), headers=f"X-Appwrite-Key: {API_KEY}\r\n".encode())
    await publisher.recv()  # connected
    try:
        for k in range(3):  # first-message costs (imports, caches) before measuring
            publisher.send_text(_publish_frame(topic, f"w{k:09d}", k))
        await asyncio.wait_for(agg.until(3 * n), 20)
        usage = Usage(srv.pid)

        async def publish(k: int, mid: str) -> None:
            agg.t0[mid.encode()] = now()
            publisher.send_text(_publish_frame(topic, mid, k))

        timing = await send_at_rate(agg, publish, rate, int(rate * duration), n)
        use = usage.done()
        acks = [orjson.loads(f) for f in publisher.inbox]
        refused = [a for a in acks if a.get("type") != "response"]
        return {**timing.summary(), "refused": len(refused), "refusal": refused[0] if refused else None,
                "messages": timing.sent, "rate": rate, "subscribers": n, **use}
    finally:
        publisher.abort()
        for s in subs:
            s.abort()


async def _rate(srv, path: str, body, channel: str, writers: int, warmup: float, duration: float) -> dict:
    """Requests/s of ``POST path`` from ``writers`` keep-alive clients, with one subscriber on ``channel``."""
    port = srv.port
    agg = Agg()
    watcher = (await open_subscribers(port, RT_PATH, 1, agg, channel))[0]
    conns = [Http(port, ADMIN) for _ in range(writers)]
    state = {"measuring": False, "stop": False, "ok": 0, "err": 0, "error": None}
    seq = iter(range(10**9))

    async def client(h: Http) -> None:
        while not state["stop"]:
            k = next(seq)
            status, out = await h.request("POST", path, body(k))
            if state["measuring"]:
                if status == 201:
                    state["ok"] += 1
                else:
                    state["err"] += 1
                    state["error"] = f"{status} {out[:120]!r}"

    tasks = [asyncio.ensure_future(client(h)) for h in conns]
    try:
        await asyncio.sleep(warmup)
        ev0 = agg.events
        state["measuring"] = True
        usage = Usage(srv.pid)
        t0 = now()
        await asyncio.sleep(duration)
        state["measuring"] = False
        dt = now() - t0
        use = usage.done()
        events = agg.events - ev0
        state["stop"] = True
        await asyncio.gather(*tasks)
    finally:
        for h in conns:
            h.close()
        watcher.abort()
    rate = state["ok"] / dt
    return {"per_s": rate, "errors": state["err"], "error": state["error"], "events_seen_in_window": events,
            "server_us_each": round(use["server_cpu_pct"] * 1e4 / rate, 1) if rate else None, **use}


async def _service_cpu(workdir: Path, calls: int = 2000, rounds: int = 3) -> dict:
    """CPU microseconds per call of rows.create and topics.publish (durable, ephemeral), in this
    process (best of ``rounds``), against a store and broker built as `rtcli serve` builds them."""
    from rtcli.core.permissions import KEY
    from rtcli.server.app import ServeConfig, build_app
    from rtcli.services.context import Ctx

    app = build_app(ServeConfig(data_dir=Path(tempfile.mkdtemp(prefix="svc-", dir=workdir)), api_key=API_KEY))
    best: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        svc, ctx = app.state.services, Ctx("default", KEY)
        await svc.tablesdb.create_database(ctx, {"databaseId": "b", "name": "b"})
        await svc.tablesdb.create_table(ctx, "b", {"tableId": "t", "name": "t", "permissions": ['read("any")']})
        for mode, tid in TOPICS.items():
            await svc.topics.create(ctx, {"topicId": tid, "mode": mode, "permissions": ['read("any")']})
        data = {"n": 1, "text": TEXT}
        calls_of = {
            "rows": lambda: svc.rows.create(ctx, "b", "t", {"rowId": "unique()", "data": data}),
            "durable": lambda: svc.topics.publish_body(ctx, TOPICS["durable"], {"data": data}, ""),
            "ephemeral": lambda: svc.topics.publish_body(ctx, TOPICS["ephemeral"], {"data": data}, ""),
        }
        for _ in range(rounds):
            for name, call in calls_of.items():
                t = time.process_time()
                for _ in range(calls):
                    await call()
                await asyncio.sleep(0.05)  # let the dispatches of the last calls run (counted)
                best[name] = min(best.get(name, 1e9), (time.process_time() - t) / calls * 1e6)
    return {k: round(v, 1) for k, v in best.items()}


async def scenario_topics(args, workdir: Path) -> list[Result]:
    srv = start_rtcli(workdir)
    try:
        await setup_table(srv.port)
        await _setup_topics(srv.port)
        lat = {}
        for mode in TOPICS:
            lat[mode] = o = await _latency(srv, mode, args)
            print(f"  topics latency {mode}: p50 {o['p50_ms']:.2f} ms p99 {o['p99_ms']:.2f} ms, missing {o['missing']}, "
                  f"refused {o['refused']} (server {o['server_cpu_pct']}% CPU, waited for a CPU "
                  f"{o['server_cpu_wait_pct']}%)", file=sys.stderr)
        w = args.writers
        rates = {"rows": await _rate(srv, ROWS, lambda k: row_body(f"r{k:09d}", k), CHANNEL, w, args.warmup,
                                     args.writes_duration)}
        for mode, tid in TOPICS.items():
            rates[mode] = await _rate(srv, f"/v1/topics/{tid}/messages",
                                      lambda k: {"data": {"n": k, "text": TEXT}}, f"topics.{tid}", w, args.warmup,
                                      args.writes_duration)
        for name, r in rates.items():
            print(f"  topics REST {name}: {r['per_s']:,.0f}/s, {r['server_us_each']} us server CPU each, "
                  f"errors {r['errors']} (server {r['server_cpu_pct']}% CPU, waited {r['server_cpu_wait_pct']}%)",
                  file=sys.stderr)
    finally:
        srv.stop()
    cpu = await _service_cpu(workdir)
    print(f"  topics service CPU per call, in process: row create {cpu['rows']} us, durable publish "
          f"{cpu['durable']} us, ephemeral publish {cpu['ephemeral']} us", file=sys.stderr)
    n, rate = args.subscribers, args.latency_rate
    sized = n >= 1000 and rate >= 10
    d, e = lat["durable"], lat["ephemeral"]
    clean = all(o["missing"] == 0 and o["refused"] == 0 for o in lat.values())
    rows, pd, pe = rates["rows"], rates["durable"], rates["ephemeral"]
    details = {"latency": lat, "rest": rates, "service_cpu_us": cpu}
    return [
        Result("topics", f"p50 publish->delivery, durable, {rate:g} msg/s x {n} subs", "ms", d["p50_ms"], None, "",
               "<= 10 ms", (clean and d["p50_ms"] <= 10) if sized else None, "lower", details),
        Result("topics", f"p99 publish->delivery, durable, {rate:g} msg/s x {n} subs", "ms", d["p99_ms"], None, "",
               "<= 25 ms", (clean and d["p99_ms"] <= 25) if sized else None, "lower"),
        Result("topics", f"p50 publish->delivery, ephemeral, {rate:g} msg/s x {n} subs", "ms", e["p50_ms"], None, "",
               "<= 10 ms", (clean and e["p50_ms"] <= 10) if sized else None, "lower"),
        Result("topics", f"p99 publish->delivery, ephemeral, {rate:g} msg/s x {n} subs", "ms", e["p99_ms"], None, "",
               "<= 25 ms", (clean and e["p99_ms"] <= 25) if sized else None, "lower"),
        Result("topics", f"REST durable publishes/s vs row creates/s ({w} clients)", "req/s", pd["per_s"],
               rows["per_s"], "row creates, same server", "> row creates",
               pd["per_s"] > rows["per_s"] and pd["errors"] == 0, "higher"),
        Result("topics", f"REST ephemeral publishes/s vs row creates/s ({w} clients)", "req/s", pe["per_s"],
               rows["per_s"], "row creates, same server", "> row creates",
               pe["per_s"] > rows["per_s"] and pe["errors"] == 0, "higher"),
        Result("topics", "service CPU per durable publish vs per row create (in process)", "us", cpu["durable"],
               cpu["rows"], "rows.create", "< row create", cpu["durable"] < cpu["rows"], "lower"),
        Result("topics", "service CPU per ephemeral publish vs per row create (in process)", "us", cpu["ephemeral"],
               cpu["rows"], "rows.create", "< row create", cpu["ephemeral"] < cpu["rows"], "lower"),
    ]
