"""cli: ``rtcli --help`` and a one-shot ``rtcli row create`` (median wall and CPU time)."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import sysconfig
from pathlib import Path

from bench_client import now
from benchmarks.harness import API_KEY, DB, PROJECT, ROWS, Result, TABLE, setup_table, src_env, start_rtcli


def _cli_command() -> tuple[list[str], str]:
    """The installed console script (not a pyenv/asdf shim, which adds its own start-up)."""
    script = Path(sysconfig.get_path("scripts")) / "rtcli"
    if script.exists():
        return [str(script)], str(script)
    return [sys.executable, "-m", "rtcli"], f"{sys.executable} -m rtcli"


def _cli_env(workdir: Path) -> dict:
    """As an installed package runs: bytecode cached (in the work dir, never in the repo, even
    when PYTHONDONTWRITEBYTECODE is set), no RTCLI_* settings or profile of the user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCLI_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    env["HOME"] = str(workdir)
    return src_env(env)


def _median_wall(cmd: list[str], runs: int, env: dict | None = None) -> tuple[float, list[float], int, float]:
    """Median wall time, the runs, the first non-zero exit code, median CPU time (user + sys)."""
    subprocess.run(cmd, capture_output=True, env=env)  # warm the page cache and the bytecode cache
    times, cpu, rc = [], [], 0
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = now()
        p = subprocess.run(cmd, capture_output=True, env=env)
        times.append(now() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        rc = rc or p.returncode
    return statistics.median(times), times, rc, statistics.median(cpu)


async def scenario_cli(args, workdir: Path) -> list[Result]:
    cli, shown = _cli_command()
    runs = args.cli_runs
    env = _cli_env(workdir)
    results = []
    t_help, help_runs, rc, cpu_help = _median_wall(cli + ["--help"], runs, env)
    t_floor, _, _, cpu_floor = _median_wall([sys.executable, "-c", "pass"], runs, env)
    results.append(Result("cli", "`rtcli --help` wall time (median)", "ms", t_help * 1000, t_floor * 1000,
                          "python -c pass", "<= 200 ms", rc == 0 and t_help <= 0.2, "lower",
                          {"command": f"{shown} --help", "runs_ms": [round(x * 1000, 1) for x in help_runs],
                           "cpu_ms": round(cpu_help * 1000, 1), "floor_cpu_ms": round(cpu_floor * 1000, 1)}))
    print(f"  cli --help: {t_help * 1000:.0f} ms wall, {cpu_help * 1000:.0f} ms CPU "
          f"(python -c pass: {t_floor * 1000:.0f} ms wall, {cpu_floor * 1000:.0f} ms CPU)", file=sys.stderr)
    probe = subprocess.run(cli + ["row", "create", "--help"], capture_output=True, env=env)
    if probe.returncode != 0:
        results.append(Result("cli", "`rtcli row create` (one shot)", "ms", None, target="<= 400 ms",
                              details={"skipped": "rtcli row create is not available yet"}))
        return results
    srv = start_rtcli(workdir)
    try:
        await setup_table(srv.port)
        endpoint = f"http://127.0.0.1:{srv.port}/v1"
        cmd = cli + ["--endpoint", endpoint, "--project", PROJECT, "--key", API_KEY, "row", "create",
                     "--db", DB, "--table", TABLE, "n=1", "text=hello"]
        t_row, row_runs, rc, cpu_row = _median_wall(cmd, runs, env)
        floor_code = (f"import http.client,json;c=http.client.HTTPConnection('127.0.0.1',{srv.port});"
                      f"c.request('POST','{ROWS}',json.dumps({{'rowId':'unique()','data':{{'n':1,'text':'hello'}}}}),"
                      f"{{'Content-Type':'application/json','X-Appwrite-Project':'{PROJECT}','X-Appwrite-Key':'{API_KEY}'}});"
                      "r=c.getresponse();print(r.read().decode())")
        t_ref, _, _, cpu_ref = _median_wall([sys.executable, "-c", floor_code], runs, env)
    finally:
        srv.stop()
    results.append(Result("cli", "`rtcli row create` one shot (median)", "ms", t_row * 1000, t_ref * 1000,
                          "python + http.client POST", "<= 400 ms", rc == 0 and t_row <= 0.4, "lower",
                          {"command": " ".join(cmd).replace(API_KEY, "$KEY"), "exit_code": rc,
                           "runs_ms": [round(x * 1000, 1) for x in row_runs], "cpu_ms": round(cpu_row * 1000, 1),
                           "floor_cpu_ms": round(cpu_ref * 1000, 1)}))
    print(f"  cli row create: {t_row * 1000:.0f} ms wall, {cpu_row * 1000:.0f} ms CPU (rc {rc}; http.client floor "
          f"{t_ref * 1000:.0f} ms wall, {cpu_ref * 1000:.0f} ms CPU)", file=sys.stderr)
    return results
