"""The shared parts of the benchmark scenarios: constants, starting and pinning servers, profiles,
the bench table and its rows, results and the report."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import serve_process
from bench_client import Agg, Http, now
from serve_process import ServeProcess, free_port


ROOT = Path(__file__).resolve().parents[2]  # the repository
REFERENCE = Path(__file__).resolve().parents[1] / "bench_reference.py"
API_KEY = "bench-key-" + "0" * 22
PROJECT = "default"
DB, TABLE = "bench", "t"
ADMIN = {"X-Appwrite-Project": PROJECT, "X-Appwrite-Key": API_KEY}  # REST calls act as the server
SCENARIOS = ("fanout", "latency", "idle", "matching", "writes", "resume", "cli", "fanout-cluster", "topics", "indexes", "writes-cluster")
# --- processes: start, pin, measure ----------------------------------------------------------


@dataclass
class Pinning:
    server: set[int] | None = None
    client: set[int] | None = None

    def describe(self) -> str:
        if not self.server:
            return "not pinned"
        return f"server on CPU {sorted(self.server)}, load client on CPU {sorted(self.client or [])}"


PIN = Pinning()
SERVE_CMD = list(serve_process.SERVE)  # --serve-cmd: benchmark a branch or a prototype
SRC: Path | None = None  # --commit: the rtcli sources exported from git, used instead of the work tree


def src_env(env: dict | None = None) -> dict:
    env = dict(os.environ if env is None else env)
    if SRC is not None:
        env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def export_commit(ref: str, dest: Path) -> tuple[Path, str]:
    """``git archive`` of rtcli/ at ``ref`` into ``dest`` (the shared work tree may be mid-edit)."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True,
                         check=True).stdout.strip()
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "rtcli"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest, sha


def _preexec():
    if PIN.server:
        os.sched_setaffinity(0, PIN.server)


def start_rtcli(workdir: Path, extra: list[str] | None = None, shared: Path | None = None) -> ServeProcess:
    """A fresh `rtcli serve` (new data dir, fixed API key, no per-IP connection limit), pinned.
    ``shared``: the data dir's parent, shared by the nodes of a cluster (one log file per node)."""
    data = shared or Path(tempfile.mkdtemp(prefix="rtcli-", dir=workdir))
    return serve_process.start(data / "data", api_key=API_KEY, extra=["--max-connections-per-ip", "0", *(extra or [])],
                               command=SERVE_CMD, cwd=SRC or ROOT, env=src_env(), preexec_fn=_preexec, timeout=20)


def start_reference(kind: str, workdir: Path) -> ServeProcess:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="ref-", dir=workdir))
    log_path = data / "server.log"
    cmd = [sys.executable, str(REFERENCE), kind, "--port", str(port)]
    if kind.startswith("http"):
        cmd += ["--db", str(data / "ref.db")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log_path, "wb"), preexec_fn=_preexec)
    line = proc.stdout.readline().decode()
    if not line.startswith("READY"):
        proc.kill()
        raise RuntimeError(f"reference {kind} failed to start: {line}\n{log_path.read_text()}")
    return ServeProcess(proc, port, log_path)


class Profiler:
    """py-spy on the server for the measured window (``--profile DIR``); raw collapsed stacks.

    ``--gil``: only the thread holding the GIL is sampled, so the profile is where Python time
    goes (aiosqlite's worker threads, idle in ``queue.get``, and the loop's epoll wait drop out);
    a C call made with the GIL held (``transport.write`` and its send syscall) counts as its caller."""

    def __init__(self, out_dir: Path | None, name: str, pid: int, seconds: float) -> None:
        self.proc = None
        self.path = None
        if out_dir is None:
            return
        exe = shutil.which("py-spy")
        if exe is None:
            print("  (py-spy not found: pip install py-spy)", file=sys.stderr)
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / f"{name}.txt"
        self.proc = subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                                      "--format", "raw", "--rate", "250", "--gil", "-o", str(self.path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self) -> str | None:
        if self.proc is None:
            return None
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.path and self.path.exists():
            print(summarize_profile(self.path), file=sys.stderr)
            return str(self.path)
        return None


def summarize_profile(path: Path, top: int = 25) -> str:
    """Top frames of a py-spy raw (collapsed) profile, by self and by inclusive samples."""
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [re.sub(r"\(/.*?/(site-packages|lib/python3\.\d+|work/main)/", "(", f) for f in frames]
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    out = [f"profile {path} ({total} samples)", "  self %   frame"]
    out += [f"  {100 * c / total:6.1f}  {f}" for f, c in own.most_common(top)]
    out += ["  incl %   frame"]
    out += [f"  {100 * c / total:6.1f}  {f}" for f, c in incl.most_common(top)]
    return "\n".join(out)


ROWS = f"/v1/tablesdb/{DB}/tables/{TABLE}/rows"
CHANNEL = f"tablesdb.{DB}.tables.{TABLE}.rows"
RT_PATH = f"/v1/realtime?project={PROJECT}"


async def setup_table(port: int) -> None:
    """Database ``bench`` with table ``t`` (read("any")), columns n (integer) and text (string)."""
    h = Http(port, ADMIN)
    for path, body in [("/v1/tablesdb", {"databaseId": DB, "name": DB}),
                       (f"/v1/tablesdb/{DB}/tables", {"tableId": TABLE, "name": TABLE,
                                                     "permissions": ['read("any")']}),
                       (f"/v1/tablesdb/{DB}/tables/{TABLE}/columns/integer", {"key": "n", "required": False}),
                       (f"/v1/tablesdb/{DB}/tables/{TABLE}/columns/string", {"key": "text", "size": 255})]:
        status, out = await h.request("POST", path, body)
        if status >= 300:
            raise RuntimeError(f"setup {path}: {status} {out[:300]!r}")
    h.close()


def row_body(rid: str, n: int) -> dict:
    return {"rowId": rid, "data": {"n": n, "text": "the quick brown fox jumps over the lazy dog"}}


# Frames captured from rtcli (the reference sends the same bytes, with the row id swapped).
SAMPLE: dict[str, bytes] = {}


def ref_frame(rid: str) -> bytes:
    frame, old = SAMPLE["frame"], SAMPLE["rid"]
    return frame.replace(old.encode(), rid.encode())


# --- scenarios ---------------------------------------------------------------------------------


def quantile_ms(xs: list[float], p: float) -> float | None:
    """The ``p`` quantile of sorted times in seconds, in ms (None without samples)."""
    return round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1000, 2) if xs else None


@dataclass
class Timing:
    """The deliveries of a run at a fixed rate, timed from each send, in seconds, sorted."""

    deliveries: list[float]
    last: list[float]  # each event's last delivery: when all its receivers had it
    late_max: float  # how far the sender fell behind its schedule
    sent: int
    receivers: int

    def summary(self) -> dict:
        d, last = self.deliveries, self.last
        return {"p50_ms": quantile_ms(d, 0.50), "p90_ms": quantile_ms(d, 0.90), "p99_ms": quantile_ms(d, 0.99),
                "max_ms": quantile_ms(d, 1.0), "last_delivery_p50_ms": quantile_ms(last, 0.5),
                "last_delivery_p99_ms": quantile_ms(last, 0.99), "samples": len(d),
                "missing": self.sent * self.receivers - len(d), "sender_late_max_ms": round(self.late_max * 1000, 2)}


async def send_at_rate(agg: Agg, send: Callable[[int, str], Awaitable[None]], rate: float, count: int,
                       receivers: int, drain: float = 15) -> Timing:
    """``send(k, id)`` ``count`` times at ``rate`` a second (ids ``l000000000``, …), each in a task
    of its own so that a slow send does not hold back the next; then up to ``drain`` seconds for
    ``receivers`` deliveries of each. ``send`` sets ``agg.t0[id]`` as it sends: deliveries are
    timed from there (by ``WS``, from the row id in the frame)."""
    base = agg.events
    agg.t0, agg.lat, agg.last = {}, [], {}
    start = now() + 0.05
    late, tasks = [], []
    for k in range(count):
        due = start + k / rate
        if (delay := due - now()) > 0:
            await asyncio.sleep(delay)
        late.append(now() - due)
        tasks.append(asyncio.ensure_future(send(k, f"l{k:09d}")))
    await asyncio.gather(*tasks)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(agg.until(base + count * receivers), drain)
    sent_at, agg.t0 = agg.t0, None
    return Timing(sorted(agg.lat), sorted(agg.last[r] - sent_at[r] for r in agg.last), max(late, default=0.0),
                  count, receivers)


@dataclass
class Result:
    scenario: str
    metric: str
    unit: str
    rtcli: float | None
    reference: float | None = None
    reference_name: str = ""
    target: str = ""
    passed: bool | None = None
    better: str = "higher"  # which direction is better, for the ratio's reading
    details: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.rtcli is None or not self.reference:
            return None
        return self.rtcli / self.reference


# --- report --------------------------------------------------------------------------------------


async def wait_for_quiet(limit: float, patience: float = 600) -> None:
    """On a shared machine: wait (up to ``patience`` s) for the 1-minute load to drop below ``limit``."""
    deadline = now() + patience
    while now() < deadline:
        load = float(open("/proc/loadavg").read().split()[0])
        if load < limit:
            return
        print(f"  waiting for the load ({load}) to drop below {limit}", file=sys.stderr)
        await asyncio.sleep(15)


def machine() -> dict:
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "rtcli"], capture_output=True,
                                    text=True).stdout.strip())
    except OSError:
        commit, dirty = "", False
    versions = {}
    for mod in ("websockets", "uvicorn", "starlette", "aiosqlite", "uvloop", "httptools", "orjson"):
        try:
            versions[mod] = __import__(mod).__version__
        except (ImportError, AttributeError):
            versions[mod] = None
    import sqlite3
    versions["sqlite"] = sqlite3.sqlite_version
    return {"nproc": os.cpu_count(), "cpu": model, "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(), "kernel": platform.release(), "pinning": PIN.describe(),
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0], "git": commit + ("+dirty" if dirty else ""),
            "versions": versions}


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit in ("deliveries/s", "creates/s"):
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def table(results: list[Result]) -> str:
    head = ["scenario", "rtcli", "reference", "ratio", "target", "pass"]
    rows = []
    for r in results:
        ratio = r.ratio
        rows.append([f"{r.scenario}: {r.metric}",
                     f"{fmt(r.rtcli, r.unit)} {r.unit}" if r.rtcli is not None else "skipped",
                     f"{fmt(r.reference, r.unit)} ({r.reference_name})" if r.reference is not None else "-",
                     f"{ratio:.2f}x" if ratio is not None else "-", r.target or "-",
                     {True: "PASS", False: "FAIL", None: "-"}[r.passed]])
    out = grid(head, rows)
    out.append("(pass is '-' where there is no numeric target, or where the run was smaller than the target's sizes)")
    return "\n".join(out)


def grid(head: list[str], rows: list[list]) -> list[str]:
    """A Markdown table's lines, each column as wide as its widest cell."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]

    def line(cells: list) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"
