"""The event log's ``controls`` column: an event's controls, origin and what it supersedes are
kept as the same JSON object as always, so data directories written before still read."""

from __future__ import annotations

import asyncio

from rtcli.core.event import Controls, Event, Origin
from rtcli.store.sqlite.db import SqliteStore


def _event(**extra) -> Event:
    return Event(project="p", events=["users.u1.update.labels", "users.*.update.labels"], channels=["account"],
                 roles=["user:u1"], payload={"$id": "u1"}, timestamp="2026-01-01T00:00:00.000+00:00", user_id="u1",
                 **extra)


async def _roundtrip(tmp_path, raw: str | None = None) -> tuple[list[str], list[Event]]:
    store = SqliteStore(tmp_path / "rtcli.db")
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
    return [r["controls"] for r in rows], events


def test_controls_column_is_unchanged_json(tmp_path):
    stored, events = asyncio.run(_roundtrip(tmp_path))
    assert stored == ['{"refresh_roles":["u1",["user:u1","users"]],"revoke_session":"s1","reload_keys":true,'
                      '"reload_functions":true,"origin":["fn1",2],"exclude":"c1",'
                      '"supersedes":"topics.t.events.e.user:u1"}', None]
    first, plain = events
    assert first.controls == Controls(refresh_roles=("u1", frozenset({"users", "user:u1"})), revoke_session="s1",
                                      reload_keys=True, reload_functions=True, exclude="c1")
    assert first.origin == Origin("fn1", 2) and first.supersedes == "topics.t.events.e.user:u1"
    assert plain.controls == Controls() and plain.origin is None and plain.supersedes is None


def test_rows_written_before_still_read(tmp_path):
    _, events = asyncio.run(_roundtrip(tmp_path, raw='{"origin":["writer",1],"revoke_session":"s9"}'))
    old = events[-1]
    assert old.origin == Origin("writer", 1) and old.controls == Controls(revoke_session="s9")
