"""GET /v1/openapi.json: an OpenAPI 3 description of rtcli's REST surface (for tools and fuzzing)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from rtcli.server.http import json_response


def spec() -> dict:
    return {"openapi": "3.0.3", "info": {"title": "rtcli", "version": "0.1.0"}, "paths": {}}


async def openapi(request: Request):
    return json_response(spec())


routes = [Route("/openapi.json", openapi, methods=["GET"])]
