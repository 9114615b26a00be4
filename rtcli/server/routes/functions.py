"""Functions and executions routes (/v1/functions…)."""

from __future__ import annotations

import os
import platform
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli import __version__
from rtcli.server.http import array_param, body, ctx, json_response, no_content
from rtcli.services.executions import Executions, for_format
from rtcli.services.functions import Functions


def _svc(request: Request) -> Functions:
    svc: Functions = request.app.state.services.functions
    return svc


def _runs(request: Request) -> Executions:
    svc: Executions = request.app.state.services.executions
    return svc


def _fmt(request: Request, model: dict[str, Any]) -> dict[str, Any]:
    return for_format(model, request.headers.get("x-appwrite-response-format"))


async def runtimes(request: Request) -> Response:
    """One runtime, honestly: a function is a command run on the server's own machine."""
    await ctx(request)
    local = {"$id": "local", "key": "local", "name": "Local command (runs on the server's machine, no container)",
             "version": __version__, "base": "", "image": "", "logo": "", "supports": [platform.machine()]}
    return json_response({"total": 1, "runtimes": [local]})


async def specifications(request: Request) -> Response:
    """One specification: the server's machine, shared by every execution (--max-executions at once)."""
    await ctx(request)
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    spec = {"memory": pages * page_size // (1024 * 1024), "cpus": os.cpu_count() or 1, "enabled": True, "slug": "local"}
    return json_response({"total": 1, "specifications": [spec]})


async def functions(request: Request) -> Response:
    c = await ctx(request)
    if request.method == "POST":
        return json_response(await _svc(request).create(c, await body(request)), 201)
    return json_response(await _svc(request).list(c, array_param(request, "queries")))


async def function(request: Request) -> Response:
    c, fid = await ctx(request), request.path_params["function"]
    if request.method == "GET":
        return json_response(await _svc(request).get(c, fid))
    if request.method == "PUT":
        return json_response(await _svc(request).update(c, fid, await body(request)))
    await _svc(request).delete(c, fid)
    return no_content()


async def executions(request: Request) -> Response:
    c, fid = await ctx(request), request.path_params["function"]
    if request.method == "POST":
        status, model = await _runs(request).execute(c, fid, await body(request))
        return json_response(_fmt(request, model), status)
    listed = await _runs(request).list_executions(c, fid, array_param(request, "queries"))
    listed["executions"] = [_fmt(request, m) for m in listed["executions"]]
    return json_response(listed)


async def execution(request: Request) -> Response:
    c = await ctx(request)
    if request.method == "DELETE":
        await _runs(request).delete_execution(c, request.path_params["function"], request.path_params["execution"])
        return no_content()
    model = await _runs(request).get_execution(c, request.path_params["function"], request.path_params["execution"])
    return json_response(_fmt(request, model))


routes = [
    Route("/functions", functions, methods=["GET", "POST"]),
    Route("/functions/runtimes", runtimes, methods=["GET"]),
    Route("/functions/specifications", specifications, methods=["GET"]),
    Route("/functions/{function}", function, methods=["GET", "PUT", "DELETE"]),
    Route("/functions/{function}/executions", executions, methods=["GET", "POST"]),
    Route("/functions/{function}/executions/{execution}", execution, methods=["GET", "DELETE"]),
]
