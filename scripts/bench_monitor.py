"""Benchmark `rtcli monitor` under a flood: N events/s for D seconds into the real app.

    python scripts/bench_monitor.py                      # 1,000 events/s for 10 s, buffer 3,000
    python scripts/bench_monitor.py --rate 2000 --buffer 10000 --size 160x48
    python scripts/bench_monitor.py --live                # a real `rtcli serve` and a fast writer

The events go through the same path as live ones: a source with RealtimeClient's interface
yields ``Event`` items (realistic row events: 24 event names, 16 channels, a payload) at the
target rate, the app's one feed worker batches them into messages, the screen applies them to
the ring buffer, view and widgets. The screen is rendered for real: the driver is Textual's
headless one except that it reports a terminal, so every frame is composed and encoded to
escape sequences (and then counted, not printed), at the frame rate ``rtcli monitor`` asks
Textual for (``rtcli.tui.FPS``; ``TEXTUAL_FPS`` overrides it).

With ``--live`` the events come from a real ``rtcli serve`` (started on a free port with a
temporary data directory) over the real ``RealtimeClient``: a writer thread creates rows in
bulk requests of 50 at the target rate, and the app subscribes to ``rows``.

During the flood a pilot presses keys every 200 ms (alternately ``up``, which stops following,
and ``end``, which follows again) and the script measures:

- key latency: from ``pilot.press`` until the key has taken effect (the table's cursor moved),
  and until the next frame with it has been written. (Not the time ``pilot.press`` takes to
  return: it waits for the process to be idle, up to 1 s twice, which a flood never is.) Also the
  CPU time the process spent in that interval, which other processes on a busy machine do not
  inflate: compare it between versions when the wall-clock figures are noisy;
- event-loop lag: how late a 10 ms sleep wakes up (a frozen UI shows as a large lag);
- throughput: events offered vs. events in the app, batches and their sizes, frames written;
- memory: RSS each second, and the ring buffer / view / pending sizes against ``--buffer``;
- the garbage collector: its pauses (CPU time) and how many were full collections.

Exit status 1 if the app fell behind, a key took longer than ``--max-latency`` ms at p95 to
show on screen, or the buffer exceeded its bound.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rtcli.tui import use_frame_rate  # noqa: E402

use_frame_rate()  # as rtcli monitor does, before Textual is imported
from textual.drivers.headless_driver import HeadlessDriver  # noqa: E402

from rtcli.client.realtime import Event, Pong, StateChange, Subscribed  # noqa: E402
from rtcli.tui.app import MonitorApp  # noqa: E402
from rtcli.tui.screens.monitor import MonitorConfig  # noqa: E402

import serve_process  # noqa: E402  (beside this script)


class CountingDriver(HeadlessDriver):
    """Headless input, but the app renders and encodes every frame as for a terminal."""

    written = 0
    frames = 0
    frame_written: asyncio.Event | None = None  # set by each frame, for the key latency

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        CountingDriver.written += len(data)
        CountingDriver.frames += 1
        if CountingDriver.frame_written is not None:
            CountingDriver.frame_written.set()

    def flush(self) -> None:
        pass


def row_event(i: int) -> Event:
    """A row event shaped like rtcli serve's: tablesdb and databases names, 16 channels."""
    db, table, rid = "main", "messages", f"6b0a{i:016x}"
    names: list[str] = []
    for service, tables, rows in (("tablesdb", "tables", "rows"), ("databases", "collections", "documents")):
        for d in (db, "*"):
            for t in (table, "*"):
                for r in (rid, "*"):
                    names.append(f"{service}.{d}.{tables}.{t}.{rows}.{r}.create")
                    if r == rid and d == db and t == table:
                        names.append(f"{service}.{d}.{tables}.{t}.{rows}.{r}")
    base = ["documents", f"databases.{db}.collections.{table}.documents",
            f"databases.{db}.collections.{table}.documents.{rid}", "rows", f"databases.{db}.tables.{table}.rows",
            f"databases.{db}.tables.{table}.rows.{rid}", f"tablesdb.{db}.tables.{table}.rows",
            f"tablesdb.{db}.tables.{table}.rows.{rid}"]
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+00:00"
    payload = {"$id": rid, "$sequence": str(i), "$tableId": table, "$databaseId": db, "$createdAt": stamp,
               "$updatedAt": stamp, "$permissions": ['read("any")'],
               "text": f"message number {i} from the benchmark", "n": i, "done": i % 2 == 0}
    return Event({"events": names, "channels": base + [c + ".create" for c in base], "timestamp": stamp,
                  "payload": payload, "subscriptions": ["bench"], "cursor": f"c1.bench.{i}"})


class FloodSource:
    """RealtimeClient's interface; ``stream()`` yields ``rate`` events/s for ``seconds``."""

    def __init__(self, rate: int, seconds: float) -> None:
        self.rate, self.seconds = rate, seconds
        self.rtt = 0.001
        self.sent = 0
        self.started: float | None = None
        self.finished: float | None = None
        self._closed = asyncio.Event()

    async def subscribe(self, channels, queries=(), since=None, subscription_id=None, policy=None) -> str:
        return subscription_id or "bench"

    async def unsubscribe(self, subscription_id: str) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def close(self) -> None:
        self._closed.set()

    async def stream(self):
        yield StateChange("connecting")
        yield StateChange("connected")
        yield Subscribed([{"subscriptionId": "bench", "channels": ["rows"], "queries": []}])
        yield Pong(self.rtt)
        self.started = time.perf_counter()
        total = int(self.rate * self.seconds)
        while self.sent < total:
            due = min(total, int((time.perf_counter() - self.started) * self.rate))
            while self.sent < due:
                self.sent += 1
                yield row_event(self.sent)
            await asyncio.sleep(0.002)  # like a socket: the next frames arrive a little later
        self.finished = time.perf_counter()
        await self._closed.wait()


class LiveServer:
    """`rtcli serve` on a free port, a table anyone may read, and a writer thread that creates
    rows in bulk at ``rate`` rows/s for ``seconds``. Quacks like FloodSource for the loop below
    (``started``, ``finished``, ``sent``)."""

    KEY = "bench-monitor-key-0123456789"

    def __init__(self, rate: int, seconds: float) -> None:
        self.rate, self.seconds = rate, seconds
        self.sent = 0
        self.started: float | None = None
        self.finished: float | None = None
        self.dir = tempfile.mkdtemp(prefix="rtcli-bench-monitor-")
        self.server = serve_process.start(Path(self.dir) / "data", api_key=self.KEY)
        self.endpoint = f"http://127.0.0.1:{self.server.port}/v1"
        import httpx

        self.http = httpx.Client(base_url=self.endpoint, timeout=30,
                                 headers={"X-Appwrite-Project": "default", "X-Appwrite-Key": self.KEY})
        self.http.post("/tablesdb", json={"databaseId": "main", "name": "main"}).raise_for_status()
        self.http.post("/tablesdb/main/tables", json={"tableId": "messages", "name": "messages",
                                                     "permissions": ['read("any")']}).raise_for_status()

    def start(self) -> None:
        """The writer runs in its own process, so it does not compete with the app for the GIL."""
        self.writer = subprocess.Popen(
            [sys.executable, __file__, "--write", self.endpoint, "--rate", str(self.rate), "--seconds", str(self.seconds)],
            stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        for line in self.writer.stdout:
            word, _, n = line.strip().partition(" ")
            if word == "started":
                self.started = time.perf_counter()
            elif word == "sent":
                self.sent = int(n)
            elif word == "done":
                self.sent = int(n)
                self.finished = time.perf_counter()

    def stop(self) -> None:
        if getattr(self, "writer", None) is not None and self.writer.poll() is None:
            self.writer.kill()
        self.http.close()
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def write_rows(endpoint: str, rate: int, seconds: float) -> None:
    """The live writer (``--write``): bulk row creates at ``rate`` rows/s; reports on stdout."""
    import httpx

    http = httpx.Client(base_url=endpoint, timeout=30,
                        headers={"X-Appwrite-Project": "default", "X-Appwrite-Key": LiveServer.KEY})
    total, sent = int(rate * seconds), 0
    started = time.perf_counter()
    print("started", flush=True)
    while sent < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 50)
        n = min(50, due - sent)
        if n <= 0:
            time.sleep(0.005)
            continue
        rows = [{"text": f"message number {sent + k} from the benchmark", "n": sent + k} for k in range(n)]
        http.post("/tablesdb/main/tables/messages/rows", json={"rows": rows}).raise_for_status()
        sent += n
        print("sent", sent, flush=True)
    print("done", sent, flush=True)


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run(args: argparse.Namespace) -> int:
    width, height = (int(x) for x in args.size.split("x"))
    if args.live:
        from rtcli.client.config import Settings

        source = LiveServer(args.rate, args.seconds)
        app = MonitorApp.connect(Settings(source.endpoint, "default", LiveServer.KEY, "default"), [(["rows"], [])],
                                 buffer=args.buffer)
    else:
        source = FloodSource(args.rate, args.seconds)
        config = MonitorConfig("http://127.0.0.1:8787/v1", "default", "key", [(["rows"], [])], buffer=args.buffer)
        app = MonitorApp(config, source)
    app.driver_class = CountingDriver
    try:
        return await _measure(args, app, source, width, height)
    finally:
        if args.live:
            source.stop()


async def _measure(args: argparse.Namespace, app: MonitorApp, source, width: int, height: int) -> int:
    lags: list[float] = []
    shown_ms: list[float] = []
    shown_cpu_ms: list[float] = []
    effect_ms: list[float] = []
    rss: list[tuple[float, float, int]] = []
    bounds_ok = True

    async def lag_probe() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - t - 0.01) * 1000)

    gc_ms: list[tuple[int, float]] = []  # (generation, CPU ms) of each collection during the flood
    gc_started = [0.0]

    def gc_pause(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.process_time()
        elif source.started is not None and source.finished is None:
            gc_ms.append((info["generation"], (time.process_time() - gc_started[0]) * 1000))

    gc.collect()
    gc.callbacks.append(gc_pause)
    rss_start = rss_mib()
    frame_written = CountingDriver.frame_written = asyncio.Event()
    async with app.run_test(headless=False, size=(width, height)) as pilot:
        screen = app.monitor
        table = screen.table
        if args.live:
            while not (screen.state == "connected" and all(s.confirmed for s in screen.subs.values())):
                await pilot.pause(0.02)
            source.start()
        while source.started is None or screen.view.visible < 2:  # "up" needs rows to move to
            await pilot.pause(0.01)
        probe = asyncio.create_task(lag_probe())
        key = "up"
        next_sample = 1.0
        presses: list[asyncio.Task] = []
        while source.finished is None:
            await asyncio.sleep(0.2)
            elapsed = time.perf_counter() - source.started
            want_following = key == "end"
            t0, cpu0 = time.perf_counter(), time.process_time()
            presses.append(asyncio.create_task(pilot.press(key)))
            while table.following != want_following:
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError(f"the key {key!r} had no effect in 10 s")
                await asyncio.sleep(0.0005)
            effect_ms.append((time.perf_counter() - t0) * 1000)
            frame_written.clear()
            await frame_written.wait()
            shown_ms.append((time.perf_counter() - t0) * 1000)
            shown_cpu_ms.append((time.process_time() - cpu0) * 1000)
            key = "end" if key == "up" else "up"
            if elapsed >= next_sample:
                rss.append((elapsed, rss_mib(), len(screen.buffer)))
                next_sample += 1.0
            if len(screen.buffer) > args.buffer or screen.view.visible > args.buffer \
                    or len(screen.feed.pending) > 2 * args.buffer:
                bounds_ok = False
        await asyncio.wait(presses, timeout=30)
        probe.cancel()
        # Let the last batch land, then count.
        for _ in range(500):
            if screen.buffer.total >= source.sent:
                break
            await pilot.pause(0.02)
        flood = source.finished - source.started
        received = screen.buffer.total
        batches = screen.feed.batches
        rss.append((flood, rss_mib(), len(screen.buffer)))
        final = dict(buffer=len(screen.buffer), view=len(screen.view.rows), dropped=screen.buffer.dropped)
        await app.action_quit()
    gc.callbacks.remove(gc_pause)

    print(f"monitor flood{' (live: rtcli serve, bulk writer)' if args.live else ''}: {args.rate:,} events/s "
          f"for {args.seconds:g} s, buffer {args.buffer:,}, terminal {width}x{height}")
    print(f"  offered       {source.sent:,} events in {flood:.2f} s ({source.sent / flood:,.0f}/s)")
    print(f"  in the app    {received:,} events ({received / flood:,.0f}/s) in {batches:,} batches "
          f"(mean {received / max(batches, 1):.0f} per batch)")
    print(f"  rendered      {CountingDriver.frames:,} frames, {CountingDriver.written / 1e6:.1f} MB of escape sequences")
    print(f"  key effect    p50 {pct(effect_ms, 50):.1f} ms  p95 {pct(effect_ms, 95):.1f} ms  "
          f"max {max(effect_ms, default=0):.1f} ms  ({len(effect_ms)} presses)")
    print(f"  key on screen p50 {pct(shown_ms, 50):.1f} ms  p95 {pct(shown_ms, 95):.1f} ms  "
          f"max {max(shown_ms, default=0):.1f} ms  (until the next frame is written)")
    print(f"  key CPU       p50 {pct(shown_cpu_ms, 50):.1f} ms  p95 {pct(shown_cpu_ms, 95):.1f} ms  "
          f"max {max(shown_cpu_ms, default=0):.1f} ms  (process CPU until the frame is written)")
    cpu = os.times()
    print(f"  process CPU   {cpu.user + cpu.system:.2f} s (start-up included)")
    print(f"  loop lag      p50 {pct(lags, 50):.1f} ms  p95 {pct(lags, 95):.1f} ms  max {max(lags, default=0):.1f} ms")
    pauses = [ms for _, ms in gc_ms]
    print(f"  gc pauses     {len(gc_ms):,} collections, {sum(1 for g, _ in gc_ms if g == 2)} full; "
          f"{sum(1 for ms in pauses if ms > 5)} over 5 ms, max {max(pauses, default=0):.1f} ms, "
          f"{sum(pauses):.0f} ms in all (CPU)")
    print(f"  buffer        {final['buffer']:,} kept (bound {args.buffer:,}), {final['dropped']:,} left it; "
          f"view {final['view']:,}")
    print(f"  memory (RSS)  start {rss_start:.0f} MiB; "
          + ", ".join(f"{t:.0f}s {m:.0f} MiB ({n:,})" for t, m, n in rss))
    ok = True
    if received < source.sent:
        print(f"FAIL: the app got {received:,} of {source.sent:,} events")
        ok = False
    if pct(shown_ms, 95) > args.max_latency:
        print(f"FAIL: key latency p95 {pct(shown_ms, 95):.0f} ms > {args.max_latency} ms")
        ok = False
    if not bounds_ok or final["buffer"] > args.buffer:
        print("FAIL: the ring buffer went past its bound")
        ok = False
    print("ok" if ok else "not ok")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="events per second (default 1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="flood duration (default 10)")
    parser.add_argument("--buffer", type=int, default=3000,
                        help="ring buffer size (default 3000, so that it wraps during the run)")
    parser.add_argument("--size", default="120x40", help="terminal size, WxH (default 120x40)")
    parser.add_argument("--live", action="store_true", help="events from a real rtcli serve and a bulk writer")
    parser.add_argument("--write", metavar="ENDPOINT", help=argparse.SUPPRESS)  # the live writer process
    parser.add_argument("--max-latency", type=float, default=250.0, help="p95 key latency limit in ms")
    args = parser.parse_args()
    if args.write:
        write_rows(args.write, args.rate, args.seconds)
        return
    os.environ.setdefault("TZ", "UTC")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
