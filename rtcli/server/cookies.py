"""The session cookies: ``a_session_<project>`` and its ``_legacy`` twin, as Appwrite sets them,
with the attributes that keep other sites from using them.

``SameSite=Lax`` (the default) keeps the browser from attaching the cookie to requests that
other sites' pages make (fetches, form posts, WebSocket handshakes): a hostile page cannot act
with the developer's session. An app served from another site that wants the cookie sends
``--cookie-samesite none``; browsers accept that only with ``Secure``, which a plain-HTTP host
other than localhost cannot have, so there the cookie stays ``Lax`` and the SDK falls back to
``X-Fallback-Cookies``.

``Secure`` when the request came over HTTPS (behind a proxy: the ``X-Forwarded-Proto`` of a
trusted proxy, ``--forwarded-allow-ips``, which uvicorn applies to the request's scheme) or to
localhost, which browsers treat as secure.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rtcli.settings import SameSite

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _names(project: str) -> tuple[str, str]:
    name = f"a_session_{project}"
    return name, f"{name}_legacy"


def _attributes(request: Request, same_site: SameSite) -> dict[str, Any]:
    secure = request.url.scheme == "https" or request.url.hostname in _LOCAL_HOSTS
    if same_site is SameSite.NONE and not secure:
        same_site = SameSite.LAX  # SameSite=None without Secure is refused by browsers
    return {"path": "/", "httponly": True, "secure": secure, "samesite": same_site.value}


def set_session(request: Request, response: Response, project: str, token: str, same_site: SameSite, max_age: int) -> None:
    """Appwrite's two cookies with the same attributes, plus X-Fallback-Cookies for cross-site
    apps whose browser does not send the cookie."""
    attributes = _attributes(request, same_site)
    for name in _names(project):
        response.set_cookie(name, token, max_age=max_age, **attributes)
    response.headers["X-Fallback-Cookies"] = json.dumps({_names(project)[0]: token}, separators=(",", ":"))


def clear_session(request: Request, response: Response, project: str, same_site: SameSite) -> None:
    attributes = _attributes(request, same_site)
    for name in _names(project):
        response.delete_cookie(name, **attributes)
    response.headers["X-Fallback-Cookies"] = "[]"
