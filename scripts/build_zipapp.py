#!/usr/bin/env python3
"""Build one file to carry: a shiv zipapp of rtcli and its dependencies.

    python scripts/build_zipapp.py [-o dist/rtcli.pyz]

The result runs `serve`, `subscribe`, `monitor` and every other command on a machine that has
only Python (the same major.minor and platform as the build machine: compiled dependencies such
as orjson and uvloop are platform wheels). It unpacks itself once into ~/.shiv (or $SHIV_ROOT).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "dist" / "rtcli.pyz"))
    args = parser.parse_args()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    cmd = [sys.executable, "-m", "shiv", "-c", "rtcli", "-o", str(out), "--reproducible", "--compressed",
           "-p", "/usr/bin/env python3", str(ROOT)]
    print("$", " ".join(cmd), flush=True)
    result = subprocess.run(cmd)
    if result.returncode:
        return result.returncode
    print(f"built {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
