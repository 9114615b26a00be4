"""Which browser pages may use the server: the origin policy, and the guard that refuses writes
from pages on other origins (cross-site request forgery).

A browser names the page behind every cross-origin request, and behind every write, in
``Origin``. The realtime handshake checks it (server/realtime_steps.py); the guard here checks
it for REST writes, as Appwrite does: a page on a foreign site that posts a form or a
``text/plain`` body (no CORS preflight) must not create rows, run functions or make teams in the
name of whoever's cookie the browser attaches. Requests without ``Origin`` (servers, the CLI,
the SDKs outside a browser) and requests with an API key are not a browser page's doing.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from rtcli.errors import AppwriteError
from rtcli.server.errors import error_response

NULL = "null"  # the origin of sandboxed iframes, data: URLs and file:// pages: any site can send it
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class OriginPolicy:
    """Allowed browser origins: any localhost origin, plus those given with ``--allow-origin``
    (exact origins like https://app.example.com; ``*`` for any real origin; ``null`` for the
    opaque origin, which ``*`` does not include)."""

    LOCAL = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"

    def __init__(self, extra: list[str]) -> None:
        parts = [self.LOCAL]
        for origin in extra:
            if origin == "*":
                parts.append(r"(?!null$)\S+")
            else:
                parts.append(re.escape(origin.rstrip("/")))
        self.regex = "^(" + "|".join(parts) + ")$"  # also what CORS answers to
        self._re = re.compile(self.regex)

    def allows(self, origin: str | None) -> bool:
        """No ``Origin``: not a browser page, allowed (credentials decide)."""
        return origin is None or bool(self._re.fullmatch(origin))


def unknown_origin(origin: str) -> AppwriteError:
    return AppwriteError("general_unknown_origin",
                         f"The request came from the origin '{origin}', which this server does not allow. "
                         f"If you trust it, start rtcli serve with --allow-origin {origin}.")


class OriginGuard:
    """ASGI middleware: a write (any method but GET, HEAD, OPTIONS) whose ``Origin`` the policy
    does not allow gets 403 ``general_unknown_origin`` before it is read, unless it carries an
    API key."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _SAFE_METHODS:
            origin, keyed = None, False
            for name, value in scope["headers"]:
                if name == b"origin":
                    origin = value.decode("latin-1")
                elif name == b"x-appwrite-key":
                    keyed = True
            if origin is not None and not keyed and not self.policy.allows(origin):
                await error_response(unknown_origin(origin))(scope, receive, send)
                return
        await self.app(scope, receive, send)
