"""Topic records (SQLite and PostgreSQL). Messages are not kept here: a durable topic's
messages are events in the log, an ephemeral topic's are never stored."""

from __future__ import annotations

from typing import Any

import orjson

from rtcli.core.ports import Store, Transaction
from rtcli.core.topics import Topic, TopicMode
from rtcli.errors import AppwriteError
from rtcli.store.dialect import UniqueViolation


def _topic(project: str, r: Any) -> Topic:
    return Topic(project=project, id=r["id"], name=r["name"], mode=TopicMode(r["mode"]),
                 permissions=tuple(orjson.loads(r["permissions"])), created_at=r["created_at"],
                 updated_at=r["updated_at"])


def _j(v: object) -> str:
    return orjson.dumps(v).decode()


class TopicStore:
    """Implements core.repositories.TopicRepository. ``read_roles`` holds the topic's visible roles
    (anyone with a permission on it), the column a user's list is filtered by."""

    def __init__(self, store: Store) -> None:
        self.s = store
        self.d: Any = store.dialect  # store/dialect.py: SqliteDialect or PostgresDialect

    async def get(self, project: str, topic_id: str, tx: Transaction | None = None) -> Topic | None:
        r = await (tx or self.s).fetchone("SELECT * FROM topics WHERE project=? AND id=?", (project, topic_id))
        return _topic(project, r) if r else None

    async def insert(self, tx: Transaction, topic: Topic) -> None:
        if await tx.fetchone("SELECT 1 FROM topics WHERE project=? AND id=?", (topic.project, topic.id)):
            raise AppwriteError("topic_already_exists",
                                f"A topic with the ID '{topic.id}' already exists: pick another ID or update it.")
        try:
            await tx.execute(
                "INSERT INTO topics (project, id, name, mode, permissions, read_roles, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (topic.project, topic.id, topic.name, topic.mode.value, _j(list(topic.permissions)),
                 _j(topic.visible_roles), topic.created_at, topic.updated_at))
        except UniqueViolation:  # taken since the check, by a request at the same moment
            raise AppwriteError("topic_already_exists",
                                f"A topic with the ID '{topic.id}' already exists: pick another ID or update it.") from None

    async def update(self, tx: Transaction, topic: Topic) -> None:
        await tx.execute(
            "UPDATE topics SET name=?, mode=?, permissions=?, read_roles=?, updated_at=? WHERE project=? AND id=?",
            (topic.name, topic.mode.value, _j(list(topic.permissions)), _j(topic.visible_roles), topic.updated_at,
             topic.project, topic.id))

    async def delete(self, tx: Transaction, project: str, topic_id: str) -> None:
        await tx.execute("DELETE FROM topics WHERE project=? AND id=?", (project, topic_id))

    async def list(self, project: str, limit: int, offset: int,
                   visible_to: list[str] | None) -> tuple[int, list[Topic]]:
        where, params = "project=?", [project]
        if visible_to is not None:
            where += " AND " + self.d.any_role("read_roles", visible_to, params)
        total = (await self.s.fetchone(f"SELECT COUNT(*) FROM topics WHERE {where}", params))[0]
        rows = await self.s.fetchall(f"SELECT * FROM topics WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
                                     (*params, limit, offset))
        return int(total), [_topic(project, r) for r in rows]
