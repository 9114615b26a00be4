"""Teams and memberships routes (/v1/teams…)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.server.http import array_param, body, ctx, json_response, no_content
from rtcli.services.teams import Teams


def _svc(request: Request) -> Teams:
    teams: Teams = request.app.state.services.teams
    return teams


async def teams(request: Request) -> Response:
    c = await ctx(request)
    if request.method == "POST":
        return json_response(await _svc(request).create(c, await body(request)), 201)
    return json_response(await _svc(request).list(c, array_param(request, "queries")))


async def team(request: Request) -> Response:
    c, tid = await ctx(request), request.path_params["team"]
    if request.method == "GET":
        return json_response(await _svc(request).get(c, tid))
    if request.method == "PUT":
        return json_response(await _svc(request).update(c, tid, await body(request)))
    await _svc(request).delete(c, tid)
    return no_content()


async def prefs(request: Request) -> Response:
    c, tid = await ctx(request), request.path_params["team"]
    if request.method == "GET":
        return json_response((await _svc(request).get(c, tid))["prefs"])
    return json_response((await _svc(request).update(c, tid, await body(request), "prefs"))["prefs"])


async def memberships(request: Request) -> Response:
    c, tid = await ctx(request), request.path_params["team"]
    if request.method == "POST":
        return json_response(await _svc(request).create_membership(c, tid, await body(request)), 201)
    return json_response(await _svc(request).list_memberships(c, tid, array_param(request, "queries")))


async def membership(request: Request) -> Response:
    c, tid, mid = await ctx(request), request.path_params["team"], request.path_params["membership"]
    if request.method == "GET":
        return json_response(await _svc(request).get_membership(c, tid, mid))
    if request.method == "PATCH":
        return json_response(await _svc(request).update_membership(c, tid, mid, await body(request)))
    await _svc(request).delete_membership(c, tid, mid)
    return no_content()


async def membership_status(request: Request) -> Response:
    c = await ctx(request)
    return json_response(await _svc(request).accept(c, request.path_params["team"], request.path_params["membership"],
                                                    await body(request)))


routes = [
    Route("/teams", teams, methods=["GET", "POST"]),
    Route("/teams/{team}", team, methods=["GET", "PUT", "DELETE"]),
    Route("/teams/{team}/prefs", prefs, methods=["GET", "PUT"]),
    Route("/teams/{team}/memberships", memberships, methods=["GET", "POST"]),
    Route("/teams/{team}/memberships/{membership}", membership, methods=["GET", "PATCH", "DELETE"]),
    Route("/teams/{team}/memberships/{membership}/status", membership_status, methods=["PATCH"]),
]
