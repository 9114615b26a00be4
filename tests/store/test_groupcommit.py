"""Row creates on PostgreSQL share statements when they come together (group commit), and each
keeps its own outcome: a taken id, a value PostgreSQL refuses or a changed schema fails that
create alone, and the log holds exactly the rows written, each event carrying its row's seq."""

from __future__ import annotations

import asyncio

import pytest

from rtcli.core import channels, events
from rtcli.core.event import Event
from rtcli.core.records import Column, Row
from rtcli.errors import AppwriteError
from rtcli.store.postgres.db import PostgresStore
from rtcli.store.tablesdb import TablesDBStore
from tests.services import pg_database

pytestmark = pytest.mark.postgres
NOW = "2026-01-01T00:00:00.000+00:00"


def _create(repo: TablesDBStore, row_id: str, data: dict, columns: list[Column]):
    rec = Row(id=row_id, table_id="t", database_id="d", data=data, permissions=[], created_at=NOW, updated_at=NOW)
    event = Event(project="p", events=events.row_events("d", "t", row_id, "create", "tablesdb"),
                  channels=channels.row_channels("d", "t", row_id, "create"), roles=["any"],
                  payload={"$id": row_id, "$sequence": "0", **data}, timestamp=NOW)
    return event, repo.insert_row_logged("p", rec, ["any"], columns, event, "$sequence", None)


async def _table(store: PostgresStore) -> None:
    """Database ``d`` with table ``t`` (no columns) in project ``p``."""
    async with store.transaction() as tx:
        await tx.execute("INSERT INTO databases (project, id, name, enabled, type, created_at, updated_at)"
                         " VALUES ('p', 'd', 'd', 1, 'tablesdb', ?, ?)", (NOW, NOW))
        await tx.execute("INSERT INTO tables (project, db, id, name, enabled, row_security, permissions,"
                         " created_at, updated_at) VALUES ('p', 'd', 't', 't', 1, 0, '[]', ?, ?)", (NOW, NOW))


async def _scenario(dsn: str) -> None:
    store = PostgresStore(dsn, max_size=4)
    await store.open()
    committed: list[list[Event]] = []
    store.on_commit = committed.append
    repo = TablesDBStore(store)
    try:
        await _table(store)
        creates = [_create(repo, f"r{i}", {"n": i}, []) for i in range(20)]
        results = list(await asyncio.gather(*(c for _, c in creates)))
        assert store.group.statements < 20  # they went together
        # Then creates that fail, among others that do not: a statement that PostgreSQL refuses
        # (the NUL) is written again create by create.
        more = [_create(repo, f"r{i}", {"n": i}, []) for i in range(20, 30)]
        more += [_create(repo, "dup", {"n": -1}, []) for _ in range(5)]
        more.append(_create(repo, "nul", {"s": "a\u0000b"}, []))  # jsonb refuses NUL
        stale = Column(key="n", kind="integer", required=False, array=False, default=None, created_at=NOW,
                       updated_at=NOW)
        more.append(_create(repo, "stale", {"n": 0}, [stale]))  # not its columns
        results += await asyncio.gather(*(c for _, c in more), return_exceptions=True)
        creates += more

        by_id = dict(zip([e.payload["$id"] for e, _ in creates], results))
        assert all(isinstance(by_id[f"r{i}"], int) for i in range(30))
        dups = results[30:35]
        assert sum(isinstance(r, int) for r in dups) == 1
        assert sorted(r.type for r in dups if isinstance(r, AppwriteError)) == ["row_already_exists"] * 4
        assert isinstance(by_id["nul"], AppwriteError) and by_id["nul"].code == 400
        assert by_id["stale"] is None

        written = [ev for batch in committed for ev in batch]
        assert sorted(ev.payload["$id"] for ev in written) == sorted([f"r{i}" for i in range(30)] + ["dup"])
        for ev, result in zip((e for e, _ in creates), results):
            if isinstance(result, int):
                assert ev.payload["$sequence"] == str(result) and ev.cursor == store.cursor(ev.seq)
        for batch in committed:  # one transaction's events, in log order
            assert [ev.seq for ev in batch] == sorted(ev.seq for ev in batch)
        logged = await store.read_events("p", 0, await store.head(), 1000)
        assert [(ev.seq, ev.payload) for ev in logged] == sorted((ev.seq, ev.payload) for ev in written)
        rows = await store.fetchall("SELECT id FROM rows ORDER BY id")
        assert sorted(r["id"] for r in rows) == sorted([f"r{i}" for i in range(30)] + ["dup"])
    finally:
        await store.close()


def test_concurrent_creates_share_statements_and_keep_their_own_outcome():
    with pg_database() as dsn:
        asyncio.run(_scenario(dsn))


async def _cohorts(dsn: str) -> None:
    from rtcli.store.postgres import groupcommit

    store = PostgresStore(dsn, max_size=4)
    await store.open()
    repo = TablesDBStore(store)
    group = store.group
    try:
        await _table(store)
        # A lone writer never waits for company.
        for i in range(5):
            await _create(repo, f"lone{i}", {"n": i}, [])[1]
        assert group.lingered == 0 and group.statements == 5

        # Five writers were seen together: five creates that then come one by one, each a
        # millisecond after the other, are still written in one statement (and the first waited).
        await asyncio.gather(*(_create(repo, f"together{i}", {"n": i}, [])[1] for i in range(5)))
        before = group.statements

        async def later(i: int) -> int | None:
            await asyncio.sleep(0.001 * i)
            return await _create(repo, f"staggered{i}", {"n": i}, [])[1]

        results = await asyncio.gather(*(later(i) for i in range(5)))
        assert all(isinstance(r, int) for r in results)
        assert group.statements == before + 1 and group.lingered >= 1

        # Once the writers have been quiet for two windows, a lone create does not wait again.
        await asyncio.sleep(2.5 * groupcommit.WINDOW)
        lingered = group.lingered
        await _create(repo, "alone-again", {"n": 0}, [])[1]
        assert group.lingered == lingered
    finally:
        await store.close()


def test_a_statement_waits_briefly_for_the_creates_it_can_expect_and_a_lone_writer_never_waits(monkeypatch):
    from rtcli.store.postgres import groupcommit

    monkeypatch.setattr(groupcommit, "LINGER", 0.25)  # generous: the staggered creates must make it on a busy machine
    with pg_database() as dsn:
        asyncio.run(_cohorts(dsn))


async def _plans(dsn: str) -> None:
    store = PostgresStore(dsn)
    await store.open()
    repo = TablesDBStore(store)
    try:
        await _table(store)
        for b, n in enumerate((1, 5, 2, 9, 3, 7, 1, 4)):  # batches of every size: each would get a custom plan
            await asyncio.gather(*(_create(repo, f"r{b}-{i}", {"n": i}, [])[1] for i in range(n)))
        assert store.group.statements >= 8
        assert store.batches is not None
        plans = []
        conns = [await store.batches.acquire() for _ in range(store.batches.get_size())]  # each one, at once
        for conn in conns:
            plans += await conn.fetch("SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                                      " WHERE statement LIKE 'WITH i AS (SELECT * FROM unnest(%'")
            await store.batches.release(conn)
        assert plans, "the statement was prepared on the group-commit connections"
        assert sum(p["generic_plans"] for p in plans) == store.group.statements
        assert sum(p["custom_plans"] for p in plans) == 0
    finally:
        await store.close()


def test_the_group_commit_statement_is_planned_once_not_on_every_execution():
    """PostgreSQL would plan the statement anew for every batch (the arrays' lengths change its
    estimates, so its generic plan never looks cheaper), which was half of its CPU: the
    connections that send it keep one generic plan."""
    with pg_database() as dsn:
        asyncio.run(_plans(dsn))


async def _rows_left(store: PostgresStore) -> int:
    return int((await store.fetchone("SELECT count(*) FROM rows WHERE project='p' AND db='d' AND tbl='t'"))[0])


async def _delete(store: PostgresStore, repo: TablesDBStore, what: str, done: asyncio.Event) -> None:
    """Deletes the table, or its whole database; held open until ``done``."""
    async with store.transaction() as tx:
        if what == "table":
            await repo.delete_table(tx, "p", "d", "t")
        else:
            await repo.delete_database(tx, "p", "d")
        await done.wait()  # held open: the delete is under way until the test lets it commit


async def _table_deleted_while_creating(dsn: str, what: str) -> None:
    store = PostgresStore(dsn)
    await store.open()
    repo = TablesDBStore(store)
    go = asyncio.Event()  # lets a held delete commit (set at the end whatever happens)
    try:
        # A create under way (its transaction has read the table's columns and written its row),
        # then the table's delete: the delete waits for the create, then takes its row too.
        await _table(store)
        go.set()
        async with store.transaction() as tx:
            assert await repo.schema_in(tx, "p", "d", "t") == []
            rec = Row(id="early", table_id="t", database_id="d", data={}, permissions=[], created_at=NOW,
                      updated_at=NOW)
            await repo.insert_row(tx, "p", rec, ["any"])
            delete = asyncio.ensure_future(_delete(store, repo, what, go))
            await asyncio.sleep(0.3)
            assert not delete.done(), "the delete waits for the create under way"
        await delete
        assert await _rows_left(store) == 0, "no row of the deleted table is left"

        # The table's delete under way, then a create (one statement, group commit): it waits
        # for the delete, then finds the table gone and writes nothing.
        if what == "table":  # the table again (its database is still there)
            async with store.transaction() as tx:
                await tx.execute("INSERT INTO tables (project, db, id, name, enabled, row_security, permissions,"
                                 " created_at, updated_at) VALUES ('p', 'd', 't', 't', 1, 0, '[]', ?, ?)",
                                 (NOW, NOW))
        else:
            await _table(store)
        go.clear()
        delete = asyncio.ensure_future(_delete(store, repo, what, go))
        await asyncio.sleep(0.2)
        _, create = _create(repo, "late", {}, [])
        late = asyncio.ensure_future(create)
        await asyncio.sleep(0.3)
        assert not late.done(), "the create waits for the delete under way"
        go.set()
        await delete
        assert await late is None, "the table is gone: nothing written"
        assert await _rows_left(store) == 0
        logged = await store.read_events("p", 0, await store.head(), 100)
        assert [ev.payload["$id"] for ev in logged] == [], "and nothing logged"
    finally:
        go.set()
        await asyncio.sleep(0.1)  # a held delete commits, and gives its connection back
        await store.close()


@pytest.mark.parametrize("what", ["table", "database"])
def test_a_table_deleted_while_rows_are_created_leaves_none_of_them_behind(what):
    """A row create and its table's (or database's) delete at the same moment, in either order:
    the table's row is locked by the create (against its delete only) and deleted first by the
    delete, so one waits for the other and no row outlives its table."""
    with pg_database() as dsn:
        asyncio.run(_table_deleted_while_creating(dsn, what))
