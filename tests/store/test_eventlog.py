"""The event log's ``controls`` column, on SQLite and PostgreSQL: an event's controls, origin and
what it supersedes are kept as the same JSON object as always (on SQLite the same text), so data
directories and databases written before still read."""

from __future__ import annotations

import asyncio

import orjson

from rtcli.core.event import Controls, Event, Origin
from rtcli.store.sqlite.db import SqliteStore


def _event(**extra) -> Event:
    return Event(project="p", events=["users.u1.update.labels", "users.*.update.labels"], channels=["account"],
                 roles=["user:u1"], payload={"$id": "u1"}, timestamp="2026-01-01T00:00:00.000+00:00", user_id="u1",
                 **extra)


async def _roundtrip(make_store, raw: str | None = None) -> tuple[list[str], list[Event], bool]:
    store = make_store()
    await store.open()
    store.on_commit = lambda events: None
    try:
        async with store.transaction(Origin("fn1", 2)) as tx:
            await tx.append_event(_event(controls=Controls(refresh_roles=("u1", frozenset({"users", "user:u1"})),
                                                           revoke_session="s1", reload_keys=True,
                                                           reload_functions=True, exclude="c1"),
                                         supersedes="topics.t.events.e.user:u1"))
        async with store.transaction() as tx:
            await tx.append_event(_event())
        if raw is not None:  # a row as an earlier version wrote it
            async with store.transaction() as tx:
                await tx.append_event(_event())
                await tx.insert("UPDATE events SET controls=? WHERE seq=(SELECT MAX(seq) FROM events)", (raw,))
        rows = await store.fetchall("SELECT controls FROM events ORDER BY seq")
        events = await store.read_events("p", 0, await store.head(), 10)
    finally:
        await store.close()
    return [r["controls"] for r in rows], events, isinstance(store, SqliteStore)


CONTROLS = ('{"refresh_roles":["u1",["user:u1","users"]],"revoke_session":"s1","reload_keys":true,'
            '"reload_functions":true,"origin":["fn1",2],"exclude":"c1","supersedes":"topics.t.events.e.user:u1"}')


def test_controls_column_is_unchanged_json(make_store):
    stored, events, sqlite = asyncio.run(_roundtrip(make_store))
    if sqlite:
        assert stored == [CONTROLS, None]
    else:  # jsonb keeps the object, not the text
        assert orjson.loads(stored[0]) == orjson.loads(CONTROLS) and stored[1] is None
    first, plain = events
    assert first.controls == Controls(refresh_roles=("u1", frozenset({"users", "user:u1"})), revoke_session="s1",
                                      reload_keys=True, reload_functions=True, exclude="c1")
    assert first.origin == Origin("fn1", 2) and first.supersedes == "topics.t.events.e.user:u1"
    assert plain.controls == Controls() and plain.origin is None and plain.supersedes is None


def test_rows_written_before_still_read(make_store):
    _, events, _ = asyncio.run(_roundtrip(make_store, raw='{"origin":["writer",1],"revoke_session":"s9"}'))
    old = events[-1]
    assert old.origin == Origin("writer", 1) and old.controls == Controls(revoke_session="s9")
