"""API keys (/v1/keys, an rtcli extension): create with scopes, list, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.server.http import body, ctx, json_response, no_content


async def keys(request: Request) -> Response:
    c, svc = await ctx(request), request.app.state.services.keys
    if request.method == "POST":
        return json_response(await svc.create(c, await body(request)), 201)
    return json_response(await svc.list(c))


async def key(request: Request) -> Response:
    c, svc = await ctx(request), request.app.state.services.keys
    await svc.delete(c, request.path_params["key"])
    return no_content()


routes = [Route("/keys", keys, methods=["GET", "POST"]), Route("/keys/{key}", key, methods=["DELETE"])]
