"""The server tests are the store contract suite: each runs against SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import start_server
from tests.services import pg_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _start(backend: str, data_dir, stack, extra: list[str] | None = None):
    extra = list(extra or [])
    if backend == "postgres":
        extra += ["--database", stack.enter_context(pg_database())]
    return start_server(data_dir, extra=extra)


@pytest.fixture(params=BACKENDS)
def server(request, tmp_path):
    from contextlib import ExitStack

    with ExitStack() as stack:
        srv = _start(request.param, tmp_path / "data", stack)
        yield srv
        srv.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def shared_server(request, tmp_path_factory):
    from contextlib import ExitStack

    with ExitStack() as stack:
        srv = _start(request.param, tmp_path_factory.mktemp("shared") / "data", stack)
        yield srv
        srv.stop()


@pytest.fixture(params=BACKENDS)
def backend_args(request):
    """``rtcli serve`` arguments for one backend (SQLite: none), for a test that starts, kills
    and restarts its own server: pass them at every start, so a restart finds the same data."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield [] if request.param == "sqlite" else ["--database", stack.enter_context(pg_database())]
