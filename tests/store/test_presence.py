"""Presences as the store keeps them, on SQLite and PostgreSQL: one per user, held by a unique
index, which an older database (a plain index, possibly several presences of one user) gets when
it opens, keeping each user's newest presence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rtcli.core.records import Presence
from rtcli.errors import UniqueViolation
from rtcli.store.presence import PresenceStore

OLD = "2026-01-01T00:00:00.000+00:00"
NEW = "2026-01-02T00:00:00.000+00:00"
P = Presence(id="p1", user_id="u1", status="online", source="rest", metadata={}, permissions=[], expires_at="",
             expires_ts=0.0, connection="", created_at=OLD, updated_at=OLD)


def test_a_user_has_one_presence(with_store):
    async def scenario(store, repo):
        async with store.transaction() as tx:
            await repo.insert(tx, "p", P, [])
        for other in (replace(P, id="p2"), replace(P, user_id="u2")):  # the same user; the same id
            with pytest.raises(UniqueViolation):
                async with store.transaction() as tx:
                    await repo.insert(tx, "p", other, [])
        async with store.transaction() as tx:
            await repo.insert(tx, "p", replace(P, id="p3", user_id="u3"), [])
        with pytest.raises(UniqueViolation):  # given to a user who has one
            async with store.transaction() as tx:
                await repo.save(tx, "p", replace(P, id="p3"), [])
        async with store.transaction() as tx:
            await repo.save(tx, "p", replace(P, status="away"), [])
        return await repo.of_user("p", "u1"), await repo.get("p", "p2")

    mine, none = with_store(PresenceStore, scenario)
    assert mine is not None and mine.id == "p1" and mine.status == "away" and none is None


def test_an_older_database_keeps_each_users_newest_presence(with_store):
    async def older(store, repo):
        # As an earlier version left it: a plain index, and one user's presences made at once.
        async with store.transaction() as tx:
            await tx.execute("DROP INDEX presences_one_per_user")
            await tx.execute("CREATE INDEX presences_user ON presences (project, user_id)")
            for p in (P, replace(P, id="p2", updated_at=NEW), replace(P, id="p3"), replace(P, id="q1", user_id="u2")):
                await repo.insert(tx, "p", p, [])

    async def reopened(store, repo):
        rows = await store.fetchall("SELECT id FROM presences ORDER BY id")
        with pytest.raises(UniqueViolation):
            async with store.transaction() as tx:
                await repo.insert(tx, "p", replace(P, id="p4"), [])
        return [r[0] for r in rows]

    with_store(PresenceStore, older)
    assert with_store(PresenceStore, reopened) == ["p2", "q1"]
