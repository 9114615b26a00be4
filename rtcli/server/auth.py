"""Who is calling, from every place the SDKs put credentials (headers, cookies, the X-Fallback-Cookies header, JWTs; see docs/protocol.md).

Order: ``X-Appwrite-Key`` (server key, with scopes); ``X-Appwrite-JWT`` or ``?jwt=`` (invalid:
401); then a session token from the ``a_session_<project>`` cookie, its ``_legacy`` twin,
``X-Appwrite-Session`` or ``X-Fallback-Cookies`` (an invalid session makes a guest, not an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from rtcli.core.permissions import GUEST, Actor
from rtcli.errors import AppwriteError
from rtcli.services.account import account_model
from rtcli.services.auth import Auth
from rtcli.services.projects import Projects


# The SDKs' X-Fallback-Cookies holds the session cookies of one project: a few hundred bytes.
MAX_FALLBACK = 8192


def session_tokens(project: str, headers: Mapping[str, str], cookies: Mapping[str, str]) -> list[str]:
    tokens = [cookies.get(f"a_session_{project}"), cookies.get(f"a_session_{project}_legacy"),
              headers.get("x-appwrite-session")]
    fallback = headers.get("x-fallback-cookies")
    if fallback and len(fallback) <= MAX_FALLBACK:
        try:
            data = orjson.loads(fallback)  # bounded depth: nested input is an error, not a recursion
            if isinstance(data, dict):
                tokens.append(data.get(f"a_session_{project}"))
        except ValueError:
            pass
    return [t for t in tokens if isinstance(t, str) and t]


def key_actor(projects: Projects, project: str, key: str) -> Actor:
    """The actor of an ``X-Appwrite-Key``; 401 when the key is not one of this project's."""
    actor = projects.key_actor(project, key)
    if actor is None:
        raise AppwriteError("user_unauthorized", "The API key is not valid for this project.")
    return actor


async def authenticate(projects: Projects, auth: Auth, project: str, headers: Mapping[str, str],
                       cookies: Mapping[str, str], query_params: Mapping[str, str]) -> tuple[Actor, dict[str, Any] | None]:
    """Returns the actor and, for a user, the Account model."""
    key = headers.get("x-appwrite-key")
    if key:
        return key_actor(projects, project, key), None
    jwt = headers.get("x-appwrite-jwt") or query_params.get("jwt")
    if jwt:
        if session_tokens(project, headers, cookies) and headers.get("x-appwrite-jwt"):
            pass  # Appwrite refuses JWT + cookie together; a browser always sends its cookie, so we prefer the JWT
        actor, user = await auth.from_jwt(project, jwt)
        return actor, account_model(user)
    for token in session_tokens(project, headers, cookies):
        found = await auth.from_session_token(project, token)
        if found:
            actor, user = found
            return actor, account_model(user)
    return GUEST, None
