"""Runs a function's command as a local subprocess, in its own process group.

The body goes to stdin; stdout becomes the response body and stderr the logs, each capped at
``max_output`` bytes (the rest is read and discarded so the child never blocks on a full pipe).
On timeout the whole process group is killed. A crashing or hanging function never harms the
server: at most ``concurrency`` run at once, the others wait their turn.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import time
from dataclasses import dataclass


@dataclass
class RunResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool
    duration: float
    error: str = ""


class Runner:
    def __init__(self, concurrency: int = 4, max_output: int = 1024 * 1024) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.max_output = max_output

    async def _drain(self, stream: asyncio.StreamReader) -> bytes:
        kept = bytearray()
        while chunk := await stream.read(65536):
            room = self.max_output - len(kept)
            if room > 0:
                kept += chunk[:room]
        return bytes(kept)

    async def run(self, command: str, cwd: str | None, stdin: bytes, env: dict[str, str], timeout: float) -> RunResult:
        async with self.slots:
            start = time.monotonic()
            try:
                argv = shlex.split(command)
                proc = await asyncio.create_subprocess_exec(
                    *argv, cwd=cwd or None, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, env={**os.environ, **env}, start_new_session=True)
            except (OSError, ValueError) as e:
                return RunResult(127, b"", str(e).encode(), False, time.monotonic() - start, f"cannot start: {e}")
            out_task = asyncio.create_task(self._drain(proc.stdout))
            err_task = asyncio.create_task(self._drain(proc.stderr))
            timed_out = False
            try:
                try:
                    proc.stdin.write(stdin)
                    await proc.stdin.drain()
                    proc.stdin.close()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the function does not read its body; that is its right
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                timed_out = True
            finally:
                if proc.returncode is None or timed_out:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    await proc.wait()
            try:  # a grandchild that left the group could hold the pipes open: do not wait forever
                stdout, stderr = await asyncio.wait_for(asyncio.gather(out_task, err_task), 5)
            except TimeoutError:
                out_task.cancel()
                err_task.cancel()
                stdout, stderr = b"", b"output lost: a child process kept the pipes open"
            return RunResult(proc.returncode if not timed_out else -9, stdout, stderr, timed_out,
                             time.monotonic() - start)
