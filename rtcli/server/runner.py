"""Runs a function's command as a local subprocess, in its own process group.

The command is a shell command line, run by ``/bin/sh -c`` as Procfiles and ``npm run`` do:
pipes, ``$VARIABLES``, ``&&`` and ``exit 3`` mean what they mean in a shell.

The body goes to stdin; stdout becomes the response body and stderr the logs, each capped at
``max_output`` bytes (the rest is read and discarded so the child never blocks on a full pipe).
On timeout the whole process group is killed. A crashing or hanging function never harms the
server: at most ``concurrency`` run at once, the others wait their turn.

The command does not inherit the server's environment, which holds its secrets (the API key,
the database URL with its password): only the variables in ``PASSED_ENV`` and those the
operator names (``--function-env``) pass, beside the ones each execution sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator

from rtcli.core.records import RunResult
from rtcli.settings import DEFAULTS

SHELL = "/bin/sh"

# How sh reports a program it cannot find (exit status 127): dash "sh: 1: prog: not found",
# bash "sh: line 1: prog: command not found", busybox "sh: prog: not found".
_NOT_FOUND = re.compile(r"^.*?:(?: line)? ?\d*:? ?(?P<program>[^:\n]+): (?:command )?not found$", re.M)
_TAIL = 500  # characters of stderr quoted in an execution's errors
# What a command needs to find its programs and behave like in a shell, and nothing secret.
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


def failure(code: int, stderr: bytes) -> str:
    """What went wrong with a command that exited ``code`` (empty for 0): the program sh could
    not find, or the exit status and the end of stderr."""
    if code == 0:
        return ""
    text = stderr.decode("utf-8", "replace").strip()
    if code == 127 and (m := _NOT_FOUND.search(text)):
        return (f"cannot start: program '{m.group('program').strip()}' not found "
                f"(exit status 127; is it installed and on the server's PATH?)")
    if code == 126:
        return f"cannot start: not executable (exit status 126): {text[-_TAIL:]}"
    return f"Exit status {code}" + (f": {text[-_TAIL:]}" if text else "")


class Runner:
    """Implements core.ports.CommandRunner."""

    def __init__(self, concurrency: int = DEFAULTS.max_executions, max_output: int = 1024 * 1024, passed_env: tuple[str, ...] = ()) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.passed_env = tuple(dict.fromkeys(PASSED_ENV + tuple(passed_env)))
        self.queued = 0  # runs waiting for a slot: what the health API reports as the functions queue
        self.max_output = max_output

    async def _drain(self, stream: asyncio.StreamReader) -> bytes:
        kept = bytearray()
        while chunk := await stream.read(65536):
            room = self.max_output - len(kept)
            if room > 0:
                kept += chunk[:room]
        return bytes(kept)

    def base_env(self) -> dict[str, str]:
        """The part of the server's environment a command gets (read at each run, as a shell would)."""
        return {name: os.environ[name] for name in self.passed_env if name in os.environ}

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        self.queued += 1
        try:
            await self.slots.acquire()
        finally:
            self.queued -= 1
        try:
            yield
        finally:
            self.slots.release()

    async def run(self, command: str, cwd: str | None, stdin: bytes, env: dict[str, str], timeout: float) -> RunResult:
        async with self._slot():
            start = time.monotonic()
            try:
                proc = await asyncio.create_subprocess_exec(
                    SHELL, "-c", command, cwd=cwd or None, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, env={**self.base_env(), **env}, start_new_session=True)
            except (OSError, ValueError) as e:
                return RunResult(127, b"", str(e).encode(), False, time.monotonic() - start, f"cannot start: {e}")
            assert proc.stdin and proc.stdout and proc.stderr, "all three are pipes"
            out_task = asyncio.create_task(self._drain(proc.stdout))
            err_task = asyncio.create_task(self._drain(proc.stderr))
            timed_out = False
            try:
                try:
                    proc.stdin.write(stdin)
                    await proc.stdin.drain()
                    proc.stdin.close()
                except (BrokenPipeError, ConnectionResetError, RuntimeError):
                    # The function does not read its body, that is its right; RuntimeError: it
                    # exited before the write and uvloop closed the pipe's transport already.
                    pass
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
            assert proc.returncode is not None, "the process was waited for"
            code = proc.returncode if not timed_out else -9
            return RunResult(code, stdout, stderr, timed_out, time.monotonic() - start,
                             "" if timed_out else failure(code, stderr))
