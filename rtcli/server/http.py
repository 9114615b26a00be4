"""Request helpers shared by the routes: JSON bodies with a size limit, SDK-style query arrays,
the caller's context, JSON responses."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from rtcli.errors import AppwriteError
from rtcli.services.context import Ctx
from rtcli.settings import DEFAULTS

MAX_JSON_BODY = DEFAULTS.max_body
_INDEXED = re.compile(r"^(\w+)\[(\d*)\]$")


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def no_content() -> Response:
    """A 204 with a Content-Type, as Appwrite's server sends it (its HTTP server's default,
    ``text/html``): the Python SDK reads the header on every response and fails without one,
    and ``application/json`` would make the JavaScript SDKs parse the empty body as JSON."""
    return Response(status_code=204, media_type="text/html")


def _too_large(limit: int) -> AppwriteError:
    return AppwriteError("general_payload_too_large", f"The request body is larger than the {limit} bytes limit.")


async def body(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} when empty). Over the size limit: 413; not JSON: 400."""
    limit = getattr(request.app.state.config, "max_body", MAX_JSON_BODY)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise _too_large(limit)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(bytes(raw))
    except orjson.JSONDecodeError:
        raise AppwriteError("general_argument_invalid", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise AppwriteError("general_argument_invalid", "The request body must be a JSON object.")
    return data


def indexed_array(items: Iterable[tuple[str, Any]], name: str) -> list[str]:
    """An array as HTTP libraries encode it in a query string or a form: ``name[0]=…&name[1]=…``
    (the Python SDK, PHP), ``name[]=…`` (the JavaScript SDKs) or a repeated ``name=…``."""
    indexed: list[tuple[int, str]] = []
    plain: list[str] = []
    for key, value in items:
        if not isinstance(value, str):
            continue
        if key == name:
            plain.append(value)
            continue
        m = _INDEXED.match(key)
        if m and m.group(1) == name:
            indexed.append((int(m.group(2)) if m.group(2) else len(indexed) + 10**9, value))
    return [v for _, v in sorted(indexed, key=lambda t: t[0])] + plain


def array_param(request: Request, name: str) -> list[str]:
    """An array query parameter as the SDKs send it (see ``indexed_array``)."""
    return indexed_array(request.query_params.multi_items(), name)


def project_of(headers: Mapping[str, str], query_params: Mapping[str, str]) -> str | None:
    return headers.get("x-appwrite-project") or query_params.get("project") or None


async def ctx(request: Request) -> Ctx:
    """The caller's context. Unknown project: 404 project_not_found."""
    from rtcli.server.auth import authenticate, key_actor

    state = request.app.state
    headers = request.headers
    # The query string and the cookies are parsed only when the headers do not answer.
    project = headers.get("x-appwrite-project") or request.query_params.get("project") or None
    if not project or project not in state.projects.known:
        raise AppwriteError("project_not_found",
                            f"Project with the requested ID '{project or ''}' could not be found.")
    key = headers.get("x-appwrite-key")
    if key:
        actor = key_actor(state.projects, project, key)
    else:
        actor, _ = await authenticate(state.projects, state.auth, project, headers, request.cookies,
                                      request.query_params)
    return Ctx(project, actor)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""
