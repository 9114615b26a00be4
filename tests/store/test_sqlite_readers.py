"""SQLite reads run on a few reader connections: a slow read (a large table sorted on a column
with no index, a deep offset) holds one of them, and the server's other reads go on beside it."""

from __future__ import annotations

import asyncio
import time

from rtcli.store.sqlite.db import SqliteStore

# About a second or more of SQLite's time on one connection, whatever the machine.
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000)"
        " SELECT count(*) FROM c")


async def _reads_beside_a_slow_one(path) -> None:
    store = SqliteStore(path)
    await store.open()
    try:
        start = time.monotonic()
        slow = asyncio.ensure_future(store.fetchone(SLOW))
        await asyncio.sleep(0.05)  # the slow read has its connection
        for _ in range(20):  # a session lookup, a row read…: each answers at once
            t = time.monotonic()
            assert (await store.fetchone("SELECT 1"))[0] == 1
            assert time.monotonic() - t < 0.3
        assert not slow.done(), "the slow read was still running: the reads above went beside it"
        assert (await slow)[0] == 20_000_000
        assert time.monotonic() - start > 0.3
    finally:
        await store.close()


def test_a_slow_read_does_not_hold_the_others(tmp_path):
    asyncio.run(_reads_beside_a_slow_one(tmp_path / "rtcli.db"))
