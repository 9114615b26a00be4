"""CORS: Starlette's middleware, with a shorter path for requests that carry no ``Origin``.

Servers, the CLI and the SDKs outside a browser send no ``Origin``; Starlette still parses every
request's headers and wraps ``send`` to look for it again in the response. For them the only
effect is ``Vary: Origin`` on the response, which this path adds the same way. Requests with an
``Origin`` (browsers) take Starlette's own code, unchanged.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from rtcli.errors import AppwriteError
from rtcli.server.errors import error_response
from rtcli.server.origins import unknown_origin


class Cors(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == b"origin" for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def send_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
            await send(message)

        await self.app(scope, receive, send_vary)

    def preflight_response(self, request_headers: Headers) -> Response:
        """Starlette refuses a preflight in plain text; browsers read only the status, but a person
        probing with curl gets the same JSON error (and hint) as a refused write."""
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        origin = request_headers.get("origin", "")
        err = (unknown_origin(origin) if not self.is_allowed_origin(origin)
               else AppwriteError("general_bad_request", f"{bytes(response.body).decode()}: rtcli accepts the methods "
                                  f"and headers the Appwrite SDKs send."))
        refused = error_response(err)
        refused.headers.update({k: v for k, v in response.headers.items() if k.lower().startswith(("vary", "access-"))})
        return refused
