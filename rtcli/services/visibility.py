"""Who may read a logged event now, for replay (``since``) and ``GET /v1/events``.

An event carries the read roles of its resource at write time. Served later, those roles may be
stale: a table or bucket made private since. So a row or file event is served only when both
its frozen roles and its container's current ones admit the reader: the current read roles of
the table (bucket), plus, when it still has rowSecurity (fileSecurity), the frozen roles
(the item's own permissions are not looked up again: that is a query per event, while the
containers are a handful per page and cached in memory). A durable topic's message likewise:
served only while the topic's current read roles admit the reader too. A container deleted
since: the frozen roles decide. Other events (account, teams, executions) keep their frozen roles.
"""

from __future__ import annotations

from rtcli.core.event import Event
from rtcli.core.permissions import allows, roles_for
from rtcli.core.repositories import StorageRepository, TableRepository, TopicRepository

_Container = tuple[str, str, str]  # (kind, project, id)


class LogVisibility:
    """One instance per replay or request: it remembers the containers it looked up."""

    def __init__(self, tables: TableRepository, storage: StorageRepository, topics: TopicRepository | None = None) -> None:
        self.tables = tables
        self.storage = storage
        self.topics = topics
        self._now: dict[_Container, tuple[set[str], bool] | None] = {}

    async def readable(self, roles: frozenset[str], event: Event) -> bool:
        """Whether a reader holding ``roles`` (not an API key) may be served ``event`` now."""
        frozen = set(event.roles)
        if not allows(frozen, roles):
            return False
        now = await self._container_now(event)
        if now is None:
            return True
        granted, item_security = now
        return allows(granted | frozen if item_security else granted, roles)

    async def _container_now(self, event: Event) -> tuple[set[str], bool] | None:
        parts = event.events[0].split(".")
        if len(parts) >= 6 and parts[0] == "tablesdb" and parts[2] == "tables" and parts[4] == "rows":
            key: _Container = ("table", parts[1], parts[3])
        elif len(parts) >= 4 and parts[0] == "buckets" and parts[2] == "files":
            key = ("bucket", parts[1], "")
        elif len(parts) >= 4 and parts[0] == "topics" and parts[2] == "messages" and self.topics is not None:
            key = ("topic", parts[1], "")
        else:
            return None
        if key not in self._now:
            if key[0] == "topic" and (topics := self.topics) is not None:
                topic = await topics.get(event.project, key[1])
                self._now[key] = (set(topic.roles("read")), False) if topic else None
            elif key[0] == "table":
                t = await self.tables.get_table(event.project, key[1], key[2])
                self._now[key] = (roles_for("read", t.permissions), t.row_security) if t else None
            else:
                b = await self.storage.bucket(event.project, key[1])
                self._now[key] = (roles_for("read", b.permissions), b.file_security) if b else None
        return self._now[key]
