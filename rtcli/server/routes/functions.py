"""Functions and executions routes (/v1/functions…)."""

from __future__ import annotations

import os
import platform

from starlette.requests import Request
from starlette.routing import Route

from rtcli import __version__
from rtcli.server.http import array_param, body, ctx, json_response, no_content
from rtcli.services.functions import for_format


def _svc(request: Request):
    return request.app.state.services.functions


def _fmt(request: Request, model: dict) -> dict:
    return for_format(model, request.headers.get("x-appwrite-response-format"))


async def runtimes(request: Request):
    """One runtime, honestly: a function is a command run on the server's own machine."""
    await ctx(request)
    local = {"$id": "local", "key": "local", "name": "Local command (runs on the server's machine, no container)",
             "version": __version__, "base": "", "image": "", "logo": "", "supports": [platform.machine()]}
    return json_response({"total": 1, "runtimes": [local]})


async def specifications(request: Request):
    """One specification: the server's machine, shared by every execution (--max-executions at once)."""
    await ctx(request)
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    spec = {"memory": pages * page_size // (1024 * 1024), "cpus": os.cpu_count() or 1, "enabled": True, "slug": "local"}
    return json_response({"total": 1, "specifications": [spec]})


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
    if request.method == "DELETE":
        await _svc(request).delete_execution(c, request.path_params["function"], request.path_params["execution"])
        return no_content()
    model = await _svc(request).get_execution(c, request.path_params["function"], request.path_params["execution"])
    return json_response(_fmt(request, model))


routes = [
    Route("/functions", functions, methods=["GET", "POST"]),
    Route("/functions/runtimes", runtimes, methods=["GET"]),
    Route("/functions/specifications", specifications, methods=["GET"]),
    Route("/functions/{function}", function, methods=["GET", "PUT", "DELETE"]),
    Route("/functions/{function}/executions", executions, methods=["GET", "POST"]),
    Route("/functions/{function}/executions/{execution}", execution, methods=["GET", "DELETE"]),
]
