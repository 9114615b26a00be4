"""Functions and executions routes (/v1/functions…)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from rtcli.server.http import array_param, body, ctx, json_response, no_content
from rtcli.services.functions import for_format


def _svc(request: Request):
    return request.app.state.services.functions


def _fmt(request: Request, model: dict) -> dict:
    return for_format(model, request.headers.get("x-appwrite-response-format"))


async def functions(request: Request):
    c = await ctx(request)
    if request.method == "POST":
        return json_response(await _svc(request).create(c, await body(request)), 201)
    return json_response(await _svc(request).list(c, array_param(request, "queries")))


async def function(request: Request):
    c, fid = await ctx(request), request.path_params["function"]
    if request.method == "GET":
        return json_response(await _svc(request).get(c, fid))
    if request.method == "PUT":
        return json_response(await _svc(request).update(c, fid, await body(request)))
    await _svc(request).delete(c, fid)
    return no_content()


async def executions(request: Request):
    c, fid = await ctx(request), request.path_params["function"]
    if request.method == "POST":
        status, model = await _svc(request).execute(c, fid, await body(request))
        return json_response(_fmt(request, model), status)
    listed = await _svc(request).list_executions(c, fid, array_param(request, "queries"))
    listed["executions"] = [_fmt(request, m) for m in listed["executions"]]
    return json_response(listed)


async def execution(request: Request):
    c = await ctx(request)
    model = await _svc(request).get_execution(c, request.path_params["function"], request.path_params["execution"])
    return json_response(_fmt(request, model))


routes = [
    Route("/functions", functions, methods=["GET", "POST"]),
    Route("/functions/{function}", function, methods=["GET", "PUT", "DELETE"]),
    Route("/functions/{function}/executions", executions, methods=["GET", "POST"]),
    Route("/functions/{function}/executions/{execution}", execution, methods=["GET"]),
]
