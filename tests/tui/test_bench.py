"""scripts/bench_monitor.py still runs (a short flood), so the benchmark does not rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_monitor.py"


def test_bench_monitor_short_run():
    out = subprocess.run([sys.executable, str(SCRIPT), "--rate", "300", "--seconds", "2", "--buffer", "200",
                          "--size", "80x24", "--max-latency", "2000"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "in the app    600 events" in out.stdout
    assert "buffer        200 kept (bound 200), 400 left it" in out.stdout
