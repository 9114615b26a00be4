"""The Functions service (``/v1/functions``): functions, executions, and following an execution.

rtcli's functions are local commands on the server's machine (``command``, ``cwd``); the rest of
the surface is Appwrite's. ``create_execution`` sends ``{body, async, path, method, headers}``:
the REST field is ``path`` (only the SDKs' object form calls its argument ``xpath``).

Following an asynchronous execution until it is ``completed`` or ``failed``:

- ``poll_execution`` reads ``GET …/executions/{id}`` until then. This is the way for API keys:
  as in Appwrite, the server publishes execution events only for a user's executions.
- ``follow_execution`` (async) listens on the realtime channel ``executions.<id>`` with a user
  session. It subscribes with ``since`` a moment before the execution was created (an rtcli
  extension: the server replays what was published before the subscription took effect), and
  reads the execution once when the subscription is confirmed, so a server without replay, or
  an execution that ended before the subscription, is still seen to its end.

Both yield the execution each time its status changes (the first one included); the last one
is the final execution read over REST (with ``logs`` and ``errors`` when the caller may see them).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any

from rtcli.client.api import ApiClient, _drop_none, _seg

FINAL = ("completed", "failed")
_RANK = {"scheduled": 0, "waiting": 0, "processing": 1, "completed": 2, "failed": 2}


def _later(status: Any, than: Any) -> bool:
    """``status`` comes after ``than`` (a replayed event may be older than what REST said)."""
    return _RANK.get(status, 1) > _RANK.get(than, 0)


class Functions:
    """Functions and executions, one method each, named like the SDK's methods."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    # --- functions ------------------------------------------------------------------------

    def create(self, function_id: str, name: str, command: str, *, events: Iterable[str] | None = None,
               timeout: float | None = None, execute: Iterable[str] | None = None, cwd: str | None = None,
               enabled: bool | None = None) -> dict:
        body = _drop_none({"functionId": function_id, "name": name, "command": command, "timeout": timeout,
                           "cwd": cwd, "enabled": enabled,
                           "events": None if events is None else list(events),
                           "execute": None if execute is None else list(execute)})
        return self.client.call("POST", "/functions", body=body)

    def list(self, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", "/functions", params={"queries": list(queries)})

    def get(self, function_id: str) -> dict:
        return self.client.call("GET", f"/functions/{_seg(function_id)}")

    def update(self, function_id: str, *, name: str | None = None, command: str | None = None,
               events: Iterable[str] | None = None, timeout: float | None = None,
               execute: Iterable[str] | None = None, cwd: str | None = None, enabled: bool | None = None) -> dict:
        """Change only the fields given (None leaves a field as it is)."""
        body = _drop_none({"name": name, "command": command, "timeout": timeout, "cwd": cwd, "enabled": enabled,
                           "events": None if events is None else list(events),
                           "execute": None if execute is None else list(execute)})
        return self.client.call("PUT", f"/functions/{_seg(function_id)}", body=body)

    def delete(self, function_id: str) -> None:
        self.client.call("DELETE", f"/functions/{_seg(function_id)}")

    # --- executions -----------------------------------------------------------------------

    def _executions(self, function_id: str) -> str:
        return f"/functions/{_seg(function_id)}/executions"

    def create_execution(self, function_id: str, body: str | None = None, asynchronous: bool = False,
                         path: str | None = None, method: str | None = None,
                         headers: Mapping[str, str] | None = None) -> dict:
        """Sync: the finished execution (201). ``asynchronous``: the waiting one (202)."""
        request = _drop_none({"body": body, "async": asynchronous, "path": path, "method": method,
                              "headers": None if headers is None else dict(headers)})
        return self.client.call("POST", self._executions(function_id), body=request)

    def list_executions(self, function_id: str, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", self._executions(function_id), params={"queries": list(queries)})

    def get_execution(self, function_id: str, execution_id: str) -> dict:
        return self.client.call("GET", f"{self._executions(function_id)}/{_seg(execution_id)}")

    def poll_execution(self, execution: dict, *, interval: float = 0.05, max_interval: float = 1.0
                       ) -> Iterator[dict]:
        """Yield ``execution`` and then each status change read by polling, until it is final.

        The interval starts at ``interval`` and doubles up to ``max_interval``."""
        function_id = execution.get("resourceId") or execution.get("functionId")
        current = execution
        yield current
        while current.get("status") not in FINAL:
            time.sleep(interval)
            interval = min(max_interval, interval * 2)
            latest = self.get_execution(function_id, execution["$id"])
            if latest.get("status") != current.get("status"):
                yield latest
            current = latest

    async def follow_execution(self, execution: dict, *, endpoint: str, project: str, session: str | None,
                               created_after: str | None = None, check_every: float = 5.0) -> AsyncIterator[dict]:
        """Like ``poll_execution``, over realtime with a user ``session`` (see the module docstring).

        ``created_after`` is a server datetime (``ids.format_datetime``) shortly before the
        execution was created; replay starts there. When no event arrives for ``check_every``
        seconds (the connection may be down and retrying) the execution is read over REST, so a
        lost event delays the end by at most that long. Raises ``RealtimeFatal`` if the server
        refuses the connection (the caller may then poll instead)."""
        import asyncio
        from contextlib import aclosing

        from rtcli.client.realtime import Event, RealtimeClient, Subscribed

        function_id = execution.get("resourceId") or execution.get("functionId")
        eid = execution["$id"]
        status = execution.get("status")
        yield execution
        if status in FINAL:
            return
        client = RealtimeClient(endpoint, project, session=session)
        await client.subscribe([f"executions.{eid}"], since=created_after)
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        async def pump() -> None:
            try:
                async with aclosing(client.stream()) as items:
                    async for item in items:
                        if isinstance(item, Subscribed) or (isinstance(item, Event) and item.payload.get("$id") == eid):
                            inbox.put_nowait(item)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # RealtimeFatal (or a bug): hand it to the reader
                inbox.put_nowait(e)

        task = asyncio.create_task(pump())
        try:
            while True:
                try:
                    item = await asyncio.wait_for(inbox.get(), check_every)
                except TimeoutError:
                    item = None
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, Event):
                    latest = item.payload
                else:  # confirmed subscription, or quiet for a while: read it
                    latest = await asyncio.to_thread(self.get_execution, function_id, eid)
                if not _later(latest.get("status"), status):
                    continue
                status = latest.get("status")
                if status in FINAL:
                    # The event's payload has no logs; the REST read has all the caller may see.
                    yield latest if item is None or isinstance(item, Subscribed) else \
                        await asyncio.to_thread(self.get_execution, function_id, eid)
                    return
                yield latest
        finally:
            await client.close()
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
