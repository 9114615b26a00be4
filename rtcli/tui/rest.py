"""The monitor's REST actions: who am I, the presences, create a row, upload a file, run a
function, explain an event, list topics and publish to one.

Blocking calls (httpx, sync), meant to run in a worker thread. JSON calls go through
``rtcli.client.api.ApiClient``; the upload lives here because the client library has no
multipart support yet (move it there when it does). Errors are ``rtcli.errors.AppwriteError``
(the server said no) or ``rtcli.client.api.ConnectionFailed`` (it could not be reached).

Uploads follow the Appwrite SDKs: a file of at most 5 MiB is one ``multipart/form-data`` POST to
``/storage/buckets/{bucket}/files`` with the fields ``fileId`` and ``file``; a larger one is sent in
5 MiB chunks, in order, each with ``content-range: bytes START-END/SIZE`` and, after the first,
``x-appwrite-id: <fileId>``. ``progress(sent, total)`` is called after each request.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from rtcli import __version__, ids
from rtcli.client.api import RESPONSE_FORMAT, ApiClient, ConnectionFailed, TablesDB
from rtcli.errors import AppwriteError

CHUNK = 5 * 1024 * 1024
Progress = Callable[[int, int], None]


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class RestActions:
    """REST calls for one endpoint and project, as the given key or session (or a guest)."""

    def __init__(self, endpoint: str, project: str, key: str | None = None, session: str | None = None,
                 timeout: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.project = project
        self.key = key
        self.session = session
        self.timeout = timeout

    def _api(self) -> ApiClient:
        return ApiClient(self.endpoint, self.project, self.key, self.session, timeout=self.timeout)

    def account(self) -> dict[str, Any]:
        """The signed-in user (``GET /account``); an AppwriteError 401 for a guest."""
        with self._api() as api:
            return api.call("GET", "/account")

    def presences(self, page: int = 100, most: int = 5000) -> list[dict[str, Any]]:
        """The presences the caller may read (``GET /presences``), in the server's order, read in
        pages of ``page`` (limit and offset), at most ``most`` of them."""
        from rtcli.client.events import Presences

        out: list[dict[str, Any]] = []
        with self._api() as api:
            while len(out) < most:
                queries = [json.dumps({"method": "limit", "values": [page]}),
                           json.dumps({"method": "offset", "values": [len(out)]})]
                result = Presences(api).list(queries)
                items = [p for p in result.get("presences") or [] if isinstance(p, dict)]
                out += items
                if len(items) < page or len(out) >= int(result.get("total") or 0):
                    break
        return out[:most]

    def explain(self, cursor: str, *, user: str | None = None, key: bool = False, channel: str | None = None,
                queries: list[str] | None = None) -> dict[str, Any]:
        """Why the event at ``cursor`` did or did not reach user ``user``, an API key (``key``) or a
        guest, on ``channel`` with ``queries`` (``GET /events/{cursor}/explain``; needs a key with
        ``events.read``)."""
        from rtcli.client.events import Events

        with self._api() as api:
            return Events(api).explain(cursor, user=user, key=key, channel=channel, queries=queries or ())

    def create_row(self, database_id: str, table_id: str, data: Mapping[str, Any], row_id: str | None = None) -> dict:
        with self._api() as api:
            return TablesDB(api).create_row(database_id, table_id, row_id or ids.unique(), data)

    def topics(self) -> list[dict[str, Any]]:
        """The topics the caller may see (``GET /topics``, the first 100)."""
        from rtcli.client.topics import Topics

        with self._api() as api:
            return list(Topics(api).list([json.dumps({"method": "limit", "values": [100]})]).get("topics") or [])

    def publish(self, topic_id: str, data: Mapping[str, Any], event: str | None = None) -> dict:
        """``POST /topics/{id}/messages``; returns the acknowledgement (``$id``, ``cursor``)."""
        from rtcli.client.topics import Topics

        with self._api() as api:
            return Topics(api).publish(topic_id, data, event)

    def run_function(self, function_id: str, body: str = "", asynchronous: bool = False) -> dict:
        """``POST /functions/{id}/executions`` with ``{body, async}``; returns the execution."""
        with self._api() as api:
            return api.call("POST", f"/functions/{_seg(function_id)}/executions",
                            body={"body": body, "async": asynchronous})

    def upload_file(self, bucket_id: str, path: str | Path, file_id: str | None = None,
                    progress: Progress | None = None) -> dict:
        """Upload ``path`` to the bucket (chunked above 5 MiB); returns the file model."""
        path = Path(path).expanduser()
        size = path.stat().st_size
        if size == 0:
            raise AppwriteError("storage_invalid_file_size", "The file is empty.", code=400)
        fid = file_id or ids.unique()
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        url = f"{self.endpoint}/storage/buckets/{_seg(bucket_id)}/files"
        headers = {"X-Appwrite-Project": self.project, "X-Appwrite-Response-Format": RESPONSE_FORMAT,
                   "accept": "application/json", "user-agent": f"rtcli/{__version__}"}
        if self.key:
            headers["X-Appwrite-Key"] = self.key
        if self.session:
            headers["X-Appwrite-Session"] = self.session
        if progress:
            progress(0, size)
        result: dict = {}
        with httpx.Client(headers=headers, timeout=self.timeout) as http, open(path, "rb") as f:
            start = 0
            while start < size:
                chunk = f.read(CHUNK)
                end = start + len(chunk) - 1
                extra: dict[str, str] = {}
                if size > CHUNK:
                    extra["content-range"] = f"bytes {start}-{end}/{size}"
                    if start > 0:
                        extra["x-appwrite-id"] = fid
                try:
                    response = http.post(url, headers=extra, data={"fileId": fid},
                                         files={"file": (path.name, chunk, mime)})
                except httpx.TimeoutException as e:
                    raise ConnectionFailed(self.endpoint, "timed out") from e
                except httpx.TransportError as e:
                    raise ConnectionFailed(self.endpoint, str(e) or type(e).__name__) from e
                result = _decode(response)
                start = end + 1
                if progress:
                    progress(start, size)
        return result


def _decode(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        if isinstance(data, dict) and data.get("type"):
            raise AppwriteError(str(data["type"]), data.get("message"), code=response.status_code)
        raise AppwriteError("general_server_error", f"HTTP {response.status_code}", code=response.status_code)
    return data if isinstance(data, dict) else {}
