from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.services import pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request, tmp_path):
    """Makes a store (not yet open) on a fresh SQLite file, or a fresh PostgreSQL database."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            from rtcli.store.sqlite.db import SqliteStore

            yield lambda: SqliteStore(tmp_path / "rtcli.db")
        else:
            dsn = stack.enter_context(pg_database())
            from rtcli.store.postgres.db import PostgresStore

            yield lambda: PostgresStore(dsn)
