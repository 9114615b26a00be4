"""Presences routes (/v1/presences…), as node-appwrite's Presences service calls them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.server.http import array_param, body, client_ip, ctx, json_response, no_content


async def presences(request: Request) -> Response:
    c = await ctx(request)
    return json_response(await request.app.state.services.presence.list(c, array_param(request, "queries")))


async def presence(request: Request) -> Response:
    c, svc, pid = await ctx(request), request.app.state.services.presence, request.path_params["presence"]
    if request.method == "GET":
        return json_response(await svc.get(c, pid))
    request.app.state.write_limits.check(c, client_ip(request))
    if request.method == "PUT":
        return json_response(await svc.upsert(c, pid, await body(request)))
    if request.method == "PATCH":
        return json_response(await svc.update(c, pid, await body(request)))
    await svc.delete(c, pid)
    return no_content()


routes = [Route("/presences", presences, methods=["GET"]),
          Route("/presences/{presence}", presence, methods=["GET", "PUT", "PATCH", "DELETE"])]
