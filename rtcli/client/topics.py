"""Topics (``/v1/topics``, an rtcli extension): manage them and publish messages, one method each.

``publish`` answers with the acknowledgement ``{"$id", "topicId", "cursor", "$createdAt"}``
(``cursor`` is None for an ephemeral topic); a refusal raises ``AppwriteError`` like every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rtcli.client.api import ApiClient, _drop_none, _seg


class Topics:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def create(self, topic_id: str, name: str | None = None, mode: str | None = None,
               permissions: Iterable[str] | None = None) -> dict:
        return self.client.call("POST", "/topics", body=_drop_none({
            "topicId": topic_id, "name": name, "mode": mode,
            "permissions": None if permissions is None else list(permissions)}))

    def list(self, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", "/topics", params={"queries": list(queries)})

    def get(self, topic_id: str) -> dict:
        return self.client.call("GET", f"/topics/{_seg(topic_id)}")

    def update(self, topic_id: str, name: str | None = None, mode: str | None = None,
               permissions: Iterable[str] | None = None) -> dict:
        return self.client.call("PATCH", f"/topics/{_seg(topic_id)}", body=_drop_none({
            "name": name, "mode": mode, "permissions": None if permissions is None else list(permissions)}))

    def delete(self, topic_id: str) -> None:
        self.client.call("DELETE", f"/topics/{_seg(topic_id)}")

    def publish(self, topic_id: str, data: Mapping[str, Any], event: str | None = None) -> dict:
        return self.client.call("POST", f"/topics/{_seg(topic_id)}/messages",
                                body=_drop_none({"data": dict(data), "event": event}))
