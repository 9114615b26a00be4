"""Users routes (/v1/users…): thin adapters from HTTP to services.users."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.errors import AppwriteError
from rtcli.server.routes.unsupported import not_offered
from rtcli.server.http import array_param, body, client_ip, ctx, json_response, no_content
from rtcli.services.hashes import Algorithm
from rtcli.services.users import Users

# POST /users/<path>: a user whose password is already hashed with that algorithm.
IMPORTS = {"argon2": Algorithm.ARGON2, "bcrypt": Algorithm.BCRYPT, "md5": Algorithm.MD5, "sha": Algorithm.SHA,
           "phpass": Algorithm.PHPASS, "scrypt": Algorithm.SCRYPT, "scrypt-modified": Algorithm.SCRYPT_MODIFIED}
FIELDS = frozenset({"name", "email", "phone", "password", "status", "prefs", "verification"})


def _svc(request: Request) -> Users:
    users: Users = request.app.state.services.users
    return users


async def users(request: Request) -> Response:
    c = await ctx(request)
    if request.method == "POST":
        return json_response(await _svc(request).create(c, await body(request)), 201)
    return json_response(await _svc(request).list(c, array_param(request, "queries"),
                                                  request.query_params.get("search", ""),
                                                  request.query_params.get("total") != "false"))


async def import_user(request: Request) -> Response:
    kind = IMPORTS.get(request.path_params["algorithm"])
    if kind is None:
        raise not_offered(request)
    c = await ctx(request)
    return json_response(await _svc(request).create(c, await body(request), kind), 201)


async def user(request: Request) -> Response:
    if request.path_params["user"] == "identities":  # Appwrite's /users/identities, not a user id
        raise not_offered(request)
    c, uid = await ctx(request), request.path_params["user"]
    if request.method == "GET":
        return json_response(await _svc(request).get(c, uid))
    await _svc(request).delete(c, uid)
    return no_content()


async def update(request: Request) -> Response:
    field = request.path_params["field"]
    if field not in FIELDS:
        raise not_offered(request)  # targets, mfa, passkeys, impersonator…: Appwrite's, not rtcli's
    if request.method == "GET" and field != "prefs":
        raise AppwriteError("general_route_not_found")
    c, uid = await ctx(request), request.path_params["user"]
    if request.method == "GET":
        return json_response(await _svc(request).prefs(c, uid))
    model = await _svc(request).update(c, uid, field, await body(request))
    return json_response(model["prefs"] if field == "prefs" else model)  # PATCH …/prefs answers the prefs


async def labels(request: Request) -> Response:
    c, uid = await ctx(request), request.path_params["user"]
    return json_response(await _svc(request).update(c, uid, "labels", await body(request)))


async def phone_verification(request: Request) -> Response:
    c, uid = await ctx(request), request.path_params["user"]
    return json_response(await _svc(request).update(c, uid, "verification/phone", await body(request)))


async def sessions(request: Request) -> Response:
    c, uid = await ctx(request), request.path_params["user"]
    if request.method == "GET":
        return json_response(await _svc(request).list_sessions(c, uid))
    if request.method == "POST":
        return json_response(await _svc(request).create_session(c, uid, client_ip(request),
                                                                request.headers.get("user-agent", "")), 201)
    await _svc(request).delete_sessions(c, uid)
    return no_content()


async def session(request: Request) -> Response:
    c = await ctx(request)
    await _svc(request).delete_session(c, request.path_params["user"], request.path_params["session"])
    return no_content()


async def tokens(request: Request) -> Response:
    c = await ctx(request)
    return json_response(await _svc(request).create_token(c, request.path_params["user"], await body(request)), 201)


async def jwts(request: Request) -> Response:
    c = await ctx(request)
    return json_response(await _svc(request).create_jwt(c, request.path_params["user"], await body(request)), 201)


async def memberships(request: Request) -> Response:
    c = await ctx(request)
    return json_response(await _svc(request).memberships(c, request.path_params["user"]))


_U = "/users/{user}"
routes = [
    Route("/users", users, methods=["GET", "POST"]),
    Route(_U, user, methods=["GET", "DELETE"]),
    Route(_U + "/labels", labels, methods=["PUT"]),
    Route(_U + "/verification/phone", phone_verification, methods=["PATCH"]),
    Route(_U + "/sessions", sessions, methods=["GET", "POST", "DELETE"]),
    Route(_U + "/sessions/{session}", session, methods=["DELETE"]),
    Route(_U + "/tokens", tokens, methods=["POST"]),
    Route(_U + "/jwts", jwts, methods=["POST"]),
    Route(_U + "/memberships", memberships, methods=["GET"]),
    Route(_U + "/{field}", update, methods=["GET", "PATCH"]),
    Route("/users/{algorithm}", import_user, methods=["POST"]),
]
