"""What `rtcli serve` claims before it serves: its port, then its data directory.

Order matters for what a failed start leaves behind: the listening socket is bound before
anything is created on disk, so a server that cannot get its port creates nothing.

The data directory lock keeps a second server off a SQLite data directory: two processes on
one SQLite file would each dispatch only their own commits, so the subscribers of one never
receive the other's events (while both advance their cursors past them). The lock is an OS
lock (``flock``) on ``serve.lock``, held for the life of the process: the kernel releases it
when the process ends, however it ends, so a crashed server never leaves a stale lock. The file
also names the holder (its PID and port), for the error message of the next one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = "serve.lock"


class StartupError(Exception):
    """The server cannot start; the message is one line that says what to do."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening; uvicorn does that)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise StartupError(f"cannot listen on {host!r}: {e.strerror}; give an address of this machine "
                           f"with --host (default 127.0.0.1)") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    # Rebinding right after a restart must work while old connections sit in TIME_WAIT; a port
    # another process listens on is still refused on Linux and macOS.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} is already in use on {host}: choose another with --port "
                               f"(or stop what listens there)") from None
        if e.errno == errno.EACCES:
            raise StartupError(f"not allowed to listen on port {port}: choose one above 1023 with --port") from None
        raise StartupError(f"cannot listen on {host}:{port}: {e.strerror}; check --host and --port") from None
    sock.set_inheritable(False)
    return sock


@dataclass(frozen=True)
class Holder:
    """Who holds a data directory, as its lock file says (None when unreadable)."""

    pid: int | None
    port: int | None

    def describe(self) -> str:
        parts = [f"pid {self.pid}" if self.pid else "", f"port {self.port}" if self.port else ""]
        return ", ".join(p for p in parts if p) or "unknown pid"


class DataDirLock:
    """An exclusive, process-lifetime claim on a data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def check(self) -> None:
        """Fail if another process holds the directory. Creates nothing: a directory without a
        lock file has no server."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        except OSError as e:
            raise self._unusable(e) from None
        try:
            if not self._try_lock(fd, fcntl.LOCK_SH):
                raise self._busy(fd)
        finally:
            os.close(fd)

    def acquire(self, port: int) -> None:
        """Create the directory and take the lock, writing this process's PID and port in it."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise self._unusable(e) from None
        if not self._try_lock(fd, fcntl.LOCK_EX):
            error = self._busy(fd)
            os.close(fd)
            raise error
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps({"pid": os.getpid(), "port": port}) + "\n").encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    @staticmethod
    def _try_lock(fd: int, mode: int) -> bool:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unusable(self, e: OSError) -> StartupError:
        return StartupError(f"cannot use --data-dir {self.data_dir}: {e.strerror or e}; give a directory this "
                            "user may create and write (it is made if missing)")

    def _busy(self, fd: int) -> StartupError:
        holder = self._holder(fd)
        return StartupError(f"the data directory {self.data_dir.resolve()} is in use by another rtcli serve "
                            f"({holder.describe()}): stop that one, or give this one another --data-dir")

    @staticmethod
    def _holder(fd: int) -> Holder:
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            pid, port = info.get("pid"), info.get("port")
            return Holder(pid if isinstance(pid, int) else None, port if isinstance(port, int) else None)
        except (OSError, ValueError, AttributeError):
            return Holder(None, None)
