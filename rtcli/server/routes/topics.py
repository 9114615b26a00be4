"""Topics (/v1/topics…, an rtcli extension): manage topics and publish messages to them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.server.http import array_param, body, client_ip, ctx, json_response, no_content
from rtcli.services.topics import Topics


def _svc(request: Request) -> Topics:
    svc: Topics = request.app.state.services.topics
    return svc


async def topics(request: Request) -> Response:
    c, svc = await ctx(request), _svc(request)
    if request.method == "POST":
        return json_response((await svc.create(c, await body(request))).model(), 201)
    return json_response((await svc.list(c, array_param(request, "queries"))).model())


async def topic(request: Request) -> Response:
    c, svc, tid = await ctx(request), _svc(request), request.path_params["topic"]
    if request.method == "GET":
        return json_response((await svc.get(c, tid)).model())
    if request.method in ("PUT", "PATCH"):
        return json_response((await svc.update(c, tid, await body(request))).model())
    await svc.delete(c, tid)
    return no_content()


async def messages(request: Request) -> Response:
    c, svc = await ctx(request), _svc(request)
    published = await svc.publish_body(c, request.path_params["topic"], await body(request), client_ip(request))
    return json_response(published.model(), 201)


routes = [Route("/topics", topics, methods=["GET", "POST"]),
          Route("/topics/{topic}", topic, methods=["GET", "PUT", "PATCH", "DELETE"]),
          Route("/topics/{topic}/messages", messages, methods=["POST"])]
