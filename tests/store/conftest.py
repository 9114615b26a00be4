from __future__ import annotations

import asyncio
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


@pytest.fixture
def with_store(make_store):
    """Runs ``scenario(store, repository(store))`` on a freshly opened store, then closes it.
    Each call opens the same file or database again, so a scenario can see what an earlier one left."""
    def run(repository, scenario):
        async def go():
            store = make_store()
            await store.open()
            store.on_commit = lambda events: None
            try:
                return await scenario(store, repository(store))
            finally:
                await store.close()
        return asyncio.run(go())
    return run
