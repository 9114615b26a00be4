"""REST client for the Appwrite API (sync, over httpx), as used by the CLI's one-shot commands.

``ApiClient`` is the transport: it sends the headers the Web SDK sends, encodes GET arrays as
``queries[0]=…&queries[1]=…`` and turns every response into JSON or an exception:

- status >= 400 raises ``rtcli.errors.AppwriteError(type, message, code=status)`` built from the
  error body ``{message, code, type, version}`` (or from the status line when the body is not JSON);
- a refused, reset or timed-out connection raises ``ConnectionFailed`` naming the endpoint;
- 204 returns None.

``TablesDB`` wraps the ``/tablesdb`` routes one method each, named like the SDK's methods.
``send_form`` (multipart uploads) and ``stream`` (downloads) serve ``rtcli.client.storage``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from rtcli import __version__
from rtcli.errors import AppwriteError, RtcliError

RESPONSE_FORMAT = "2.0.0"


class ConnectionFailed(RtcliError):
    """The endpoint could not be reached (refused, unresolvable, reset or timed out)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"cannot reach {endpoint}: {reason}")


def _seg(value: str) -> str:
    """One path segment, percent-encoded like the SDK's encodeURIComponent."""
    return quote(str(value), safe="")


def flatten_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Appwrite's GET flattening: lists become ``name[i]``, booleans ``true``/``false``, None is dropped."""
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            out.extend((f"{name}[{i}]", _scalar(v)) for i, v in enumerate(value))
        else:
            out.append((name, _scalar(value)))
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ApiClient:
    """A connection to one endpoint and project. Use as a context manager, or call close()."""

    def __init__(
        self,
        endpoint: str,
        project: str,
        key: str | None = None,
        session: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        headers = {
            "X-Appwrite-Project": project,
            "X-Appwrite-Response-Format": RESPONSE_FORMAT,
            "accept": "application/json",
            "user-agent": f"rtcli/{__version__}",
        }
        if key:
            headers["X-Appwrite-Key"] = key
        if session:
            headers["X-Appwrite-Session"] = session
        # A trailing slash makes httpx append request paths to /v1 instead of replacing it.
        self._http = httpx.Client(base_url=self.endpoint + "/", headers=headers, timeout=timeout,
                                  transport=transport, verify=_tls_context(self.endpoint))

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call_with_headers(self, method: str, path: str, body: Mapping[str, Any] | None = None
                          ) -> tuple[Any, Mapping[str, str]]:
        """Like ``call`` (JSON body, errors raised alike), also returning the response headers:
        a login reads its session token from ``X-Fallback-Cookies``."""
        try:
            response = self._http.request(method, path.lstrip("/"), json=dict(body or {}))
        except httpx.TimeoutException as e:
            raise ConnectionFailed(self.endpoint, "timed out") from e
        except httpx.TransportError as e:
            raise ConnectionFailed(self.endpoint, _reason(e)) from e
        return _decode(response), response.headers

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None,
             body: Mapping[str, Any] | None = None) -> Any:
        """Send one request; return the decoded JSON (None for 204). See the module docstring."""
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = flatten_params(params)
        if method != "GET":
            # The SDK sends a JSON body on every non-GET call, `{}` for deletes.
            kwargs["json"] = dict(body or {})
        try:
            response = self._http.request(method, path.lstrip("/"), **kwargs)
        except httpx.TimeoutException as e:
            raise ConnectionFailed(self.endpoint, "timed out") from e
        except httpx.TransportError as e:
            raise ConnectionFailed(self.endpoint, _reason(e)) from e
        return _decode(response)

    def send_form(self, path: str, data: Mapping[str, Any], files: Mapping[str, Any],
                  headers: Mapping[str, str] | None = None) -> Any:
        """POST a multipart/form-data body (uploads); decoded and raised like ``call``.

        Safe to call from several threads at once (httpx.Client shares its pool)."""
        try:
            response = self._http.post(path.lstrip("/"), data=dict(data), files=dict(files),
                                       headers=dict(headers or {}))
        except httpx.TimeoutException as e:
            raise ConnectionFailed(self.endpoint, "timed out") from e
        except httpx.TransportError as e:
            raise ConnectionFailed(self.endpoint, _reason(e)) from e
        return _decode(response)

    @contextmanager
    def stream(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[httpx.Response]:
        """GET with a streamed body (downloads): yields the response once its status is 2xx;
        an error status raises like ``call``; a transport failure, also mid-body, ConnectionFailed."""
        try:
            with self._http.stream("GET", path.lstrip("/"), params=flatten_params(params or {}),
                                   headers={"accept": "*/*"}) as response:
                if response.status_code >= 400:
                    response.read()
                    _decode(response)
                yield response
        except httpx.TimeoutException as e:
            raise ConnectionFailed(self.endpoint, "timed out") from e
        except httpx.TransportError as e:
            raise ConnectionFailed(self.endpoint, _reason(e)) from e

    def health(self) -> dict:
        return self.call("GET", "/health")


def _tls_context(endpoint: str) -> Any:
    """Certificate checking for https endpoints; for plain http a context with no trust anchors.

    httpx builds its TLS context (loading the whole CA bundle, ~30 ms) when the client is made,
    even for http://. Redirects are not followed, so an http endpoint never speaks TLS; and if it
    ever did, a context that trusts nothing would refuse the connection rather than accept it.
    """
    if not endpoint.startswith("http://"):
        return True
    import ssl

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies hostnames and certificates, trusts none


def _reason(e: httpx.TransportError) -> str:
    text = str(e) or type(e).__name__
    if "refused" in text.lower() or "Errno 111" in text:
        return "connection refused"
    return text


def _decode(response: httpx.Response) -> Any:
    is_json = "application/json" in response.headers.get("content-type", "")
    data: Any = None
    if response.content and is_json:
        try:
            data = response.json()
        except ValueError:
            is_json = False
    if response.status_code >= 400:
        if isinstance(data, dict) and data.get("type"):
            raise AppwriteError(str(data["type"]), data.get("message"), code=response.status_code)
        text = response.text.strip()[:200] if not is_json else ""
        raise AppwriteError("general_server_error",
                            text or f"HTTP {response.status_code} {response.reason_phrase}",
                            code=response.status_code)
    if response.status_code == 204 or not response.content:
        return None
    if not is_json:
        # What the SDK does with a non-JSON body: hand it over as a message.
        return {"message": response.text}
    return data


class TablesDB:
    """The TablesDB service: databases, tables, columns and rows (``/v1/tablesdb``)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    # Databases
    def create(self, database_id: str, name: str, enabled: bool | None = None) -> dict:
        return self.client.call("POST", "/tablesdb", body=_drop_none(
            {"databaseId": database_id, "name": name, "enabled": enabled}))

    def list(self, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", "/tablesdb", params={"queries": list(queries)})

    def get(self, database_id: str) -> dict:
        return self.client.call("GET", f"/tablesdb/{_seg(database_id)}")

    def delete(self, database_id: str) -> None:
        self.client.call("DELETE", f"/tablesdb/{_seg(database_id)}")

    # Tables
    def _tables(self, database_id: str) -> str:
        return f"/tablesdb/{_seg(database_id)}/tables"

    def create_table(self, database_id: str, table_id: str, name: str,
                     permissions: Iterable[str] | None = None, row_security: bool | None = None,
                     enabled: bool | None = None) -> dict:
        body = _drop_none({"tableId": table_id, "name": name, "rowSecurity": row_security, "enabled": enabled,
                           "permissions": None if permissions is None else list(permissions)})
        return self.client.call("POST", self._tables(database_id), body=body)

    def list_tables(self, database_id: str, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", self._tables(database_id), params={"queries": list(queries)})

    def get_table(self, database_id: str, table_id: str) -> dict:
        return self.client.call("GET", f"{self._tables(database_id)}/{_seg(table_id)}")

    def delete_table(self, database_id: str, table_id: str) -> None:
        self.client.call("DELETE", f"{self._tables(database_id)}/{_seg(table_id)}")

    # Columns
    def create_column(self, database_id: str, table_id: str, type: str, key: str, *,
                      required: bool = False, default: Any = None, array: bool | None = None,
                      size: int | None = None, min: float | None = None, max: float | None = None,
                      elements: Sequence[str] | None = None) -> dict:
        """``POST …/columns/{type}``. Only the fields given are sent, except ``key`` and ``required``."""
        body: dict[str, Any] = {"key": key, "required": required}
        if default is not None:
            body["default"] = default
        body.update(_drop_none({"array": array, "size": size, "min": min, "max": max,
                                "elements": None if elements is None else list(elements)}))
        path = f"{self._tables(database_id)}/{_seg(table_id)}/columns/{_seg(type)}"
        return self.client.call("POST", path, body=body)

    def list_columns(self, database_id: str, table_id: str) -> dict:
        return self.client.call("GET", f"{self._tables(database_id)}/{_seg(table_id)}/columns")

    # Indexes
    def _indexes(self, database_id: str, table_id: str) -> str:
        return f"{self._tables(database_id)}/{_seg(table_id)}/indexes"

    def create_index(self, database_id: str, table_id: str, key: str, type: str, columns: Sequence[str],
                     orders: Sequence[str] | None = None) -> dict:
        body = _drop_none({"key": key, "type": type, "columns": list(columns),
                           "orders": None if orders is None else list(orders)})
        return self.client.call("POST", self._indexes(database_id, table_id), body=body)

    def list_indexes(self, database_id: str, table_id: str) -> dict:
        return self.client.call("GET", self._indexes(database_id, table_id))

    def get_index(self, database_id: str, table_id: str, key: str) -> dict:
        return self.client.call("GET", f"{self._indexes(database_id, table_id)}/{_seg(key)}")

    def delete_index(self, database_id: str, table_id: str, key: str) -> None:
        self.client.call("DELETE", f"{self._indexes(database_id, table_id)}/{_seg(key)}")

    # Rows
    def _rows(self, database_id: str, table_id: str) -> str:
        return f"{self._tables(database_id)}/{_seg(table_id)}/rows"

    def create_row(self, database_id: str, table_id: str, row_id: str, data: Mapping[str, Any],
                   permissions: Iterable[str] | None = None) -> dict:
        body = _drop_none({"rowId": row_id, "data": dict(data),
                           "permissions": None if permissions is None else list(permissions)})
        return self.client.call("POST", self._rows(database_id, table_id), body=body)

    def list_rows(self, database_id: str, table_id: str, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", self._rows(database_id, table_id), params={"queries": list(queries)})

    def get_row(self, database_id: str, table_id: str, row_id: str) -> dict:
        return self.client.call("GET", f"{self._rows(database_id, table_id)}/{_seg(row_id)}")

    def update_row(self, database_id: str, table_id: str, row_id: str, data: Mapping[str, Any] | None = None,
                   permissions: Iterable[str] | None = None) -> dict:
        return self.client.call("PATCH", f"{self._rows(database_id, table_id)}/{_seg(row_id)}",
                                body=_row_body(data, permissions))

    def upsert_row(self, database_id: str, table_id: str, row_id: str, data: Mapping[str, Any] | None = None,
                   permissions: Iterable[str] | None = None) -> dict:
        return self.client.call("PUT", f"{self._rows(database_id, table_id)}/{_seg(row_id)}",
                                body=_row_body(data, permissions))

    def delete_row(self, database_id: str, table_id: str, row_id: str) -> None:
        self.client.call("DELETE", f"{self._rows(database_id, table_id)}/{_seg(row_id)}")

    def increment_row_column(self, database_id: str, table_id: str, row_id: str, column: str,
                             value: float | None = None, max: float | None = None) -> dict:
        path = f"{self._rows(database_id, table_id)}/{_seg(row_id)}/{_seg(column)}/increment"
        return self.client.call("PATCH", path, body=_drop_none({"value": value, "max": max}))

    def decrement_row_column(self, database_id: str, table_id: str, row_id: str, column: str,
                             value: float | None = None, min: float | None = None) -> dict:
        path = f"{self._rows(database_id, table_id)}/{_seg(row_id)}/{_seg(column)}/decrement"
        return self.client.call("PATCH", path, body=_drop_none({"value": value, "min": min}))


def _drop_none(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _row_body(data: Mapping[str, Any] | None, permissions: Iterable[str] | None) -> dict[str, Any]:
    return _drop_none({"data": None if data is None else dict(data),
                       "permissions": None if permissions is None else list(permissions)})
