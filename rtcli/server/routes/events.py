"""GET /v1/events (rtcli extension): the event log, after a cursor, a date or the beginning."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.core.permissions import ActorKind
from rtcli.errors import invalid
from rtcli.server.http import array_param, ctx, json_response


async def events(request: Request) -> Response:
    c = await ctx(request)
    limit = request.query_params.get("limit", "100")
    if not limit.isdigit():
        raise invalid("Invalid `limit` param: a whole number.")
    page = await request.app.state.services.events.list(
        c, request.query_params.get("since"), int(limit), array_param(request, "channels"))
    return json_response(page.model())


async def explain(request: Request) -> Response:
    c = await ctx(request)
    q = request.query_params
    if q.get("user"):
        kind, uid = ActorKind.USER, q["user"]
    elif q.get("key") in ("1", "true"):
        kind, uid = ActorKind.KEY, None
    else:
        kind, uid = ActorKind.GUEST, None
    return json_response(await request.app.state.services.explain.explain(
        c, request.path_params["cursor"], kind, uid, q.get("channel"), array_param(request, "queries")))


routes = [Route("/events", events, methods=["GET"]),
          Route("/events/{cursor}/explain", explain, methods=["GET"])]
