"""Errors to HTTP responses, in one place: {message, code, type, version} with the right status."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from rtcli import APPWRITE_VERSION
from rtcli.errors import AppwriteError

log = logging.getLogger("rtcli.server")

_HTTP_TYPES = {404: "general_route_not_found", 405: "general_not_implemented", 413: "general_payload_too_large"}


def error_response(err: AppwriteError) -> Response:
    return Response(orjson.dumps(err.to_dict(APPWRITE_VERSION)), status_code=err.http_status,
                    media_type="application/json")


async def appwrite_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppwriteError)
    return error_response(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = _HTTP_TYPES.get(exc.status_code, "general_bad_request")
    return error_response(AppwriteError(kind, exc.detail if exc.status_code != 404 else None, code=exc.status_code))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(AppwriteError("general_server_error", "Server Error", code=500))


HANDLERS = {AppwriteError: appwrite_error, HTTPException: http_error, Exception: server_error}
