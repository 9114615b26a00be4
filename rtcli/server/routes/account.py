"""Account routes (/v1/account…): sessions set the cookies and X-Fallback-Cookies the SDKs expect."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.core.permissions import KEY
from rtcli.services import auth as authsvc
from rtcli.services.account import Account
from rtcli.services.context import Ctx
from rtcli.server import cookies
from rtcli.server.routes.unsupported import not_offered
from rtcli.server.http import body, client_ip, ctx, json_response, no_content


def _svc(request: Request) -> Account:
    account: Account = request.app.state.services.account
    return account


def _set_session(request: Request, resp: Response, project: str, token: str) -> None:
    cookies.set_session(request, resp, project, token, request.app.state.config.cookie_samesite,
                        authsvc.SESSION_SECONDS)


def _clear_session(request: Request, resp: Response, project: str) -> None:
    cookies.clear_session(request, resp, project, request.app.state.config.cookie_samesite)


async def account(request: Request) -> Response:
    c = await ctx(request)
    if request.method == "POST":
        return json_response(await _svc(request).create(c, await body(request)), 201)
    return json_response(await _svc(request).get(c))


async def email_session(request: Request) -> Response:
    c = await ctx(request)
    model, token = await _svc(request).create_email_session(c, await body(request), client_ip(request),
                                                           request.headers.get("user-agent", ""))
    resp = json_response(model, 201)
    _set_session(request, resp, c.project, token)
    return resp


async def anonymous_session(request: Request) -> Response:
    c = await ctx(request)
    model, token = await _svc(request).create_anonymous_session(c, client_ip(request),
                                                               request.headers.get("user-agent", ""))
    resp = json_response(model, 201)
    _set_session(request, resp, c.project, token)
    return resp


async def token_session(request: Request) -> Response:
    c = await ctx(request)
    model, token = await _svc(request).create_token_session(c, await body(request), client_ip(request),
                                                           request.headers.get("user-agent", ""))
    resp = json_response(model, 201)
    _set_session(request, resp, c.project, token)
    return resp


async def sessions(request: Request) -> Response:
    c = await ctx(request)
    if request.method == "GET":
        return json_response(await _svc(request).list_sessions(c))
    await _svc(request).delete_sessions(c)
    resp = no_content()
    _clear_session(request, resp, c.project)
    return resp


async def session(request: Request) -> Response:
    c = await ctx(request)
    sid = request.path_params["session"]
    if request.method == "GET":
        return json_response(await _svc(request).get_session(c, sid))
    if request.method == "PATCH":
        return json_response(await _svc(request).extend_session(c, sid))
    was_current = await _svc(request).delete_session(c, sid)
    resp = no_content()
    if was_current:
        _clear_session(request, resp, c.project)
    return resp


async def jwts(request: Request) -> Response:
    c = await ctx(request)
    return json_response(await _svc(request).create_jwt(c, await body(request)), 201)


async def update(request: Request) -> Response:
    if request.path_params["field"] == "status":
        return await status(request)
    if request.path_params["field"] not in ("name", "password", "prefs", "email"):
        raise not_offered(request)
    c = await ctx(request)
    request.app.state.write_limits.check(c, client_ip(request))
    return json_response(await _svc(request).update(c, request.path_params["field"], await body(request)))


async def status(request: Request) -> Response:
    """PATCH /account/status: the user blocks its own account (as a key's Users update would:
    the event, no role left on its connections), and its session cookies are cleared."""
    c = await ctx(request)
    me = await _svc(request).get(c)
    updated = await request.app.state.services.users.update(Ctx(c.project, KEY), me["$id"], "status", {"status": False})
    resp = json_response({k: v for k, v in updated.items() if k not in ("password", "hash", "hashOptions")})
    _clear_session(request, resp, c.project)
    return resp


async def memberships(request: Request) -> Response:
    c = await ctx(request)
    return json_response(await _svc(request).memberships(c))


async def prefs(request: Request) -> Response:
    c = await ctx(request)
    return json_response((await _svc(request).get(c))["prefs"])


routes = [
    Route("/account", account, methods=["GET", "POST"]),
    Route("/account/sessions/email", email_session, methods=["POST"]),
    Route("/account/sessions/anonymous", anonymous_session, methods=["POST"]),
    Route("/account/sessions/token", token_session, methods=["POST"]),
    # The magic-URL and phone flows end the same way: a token's userId and secret for a session.
    Route("/account/sessions/magic-url", token_session, methods=["PUT"]),
    Route("/account/sessions/phone", token_session, methods=["PUT"]),
    Route("/account/sessions", sessions, methods=["GET", "DELETE"]),
    Route("/account/sessions/{session}", session, methods=["GET", "PATCH", "DELETE"]),
    Route("/account/jwts", jwts, methods=["POST"]),
    Route("/account/jwt", jwts, methods=["POST"]),
    Route("/account/prefs", prefs, methods=["GET"]),
    Route("/account/memberships", memberships, methods=["GET"]),
    Route("/account/{field:str}", update, methods=["PATCH"]),
]
