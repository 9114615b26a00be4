"""CORS: Starlette's middleware, with a shorter path for requests that carry no ``Origin``.

Servers, the CLI and the SDKs outside a browser send no ``Origin``; Starlette still parses every
request's headers and wraps ``send`` to look for it again in the response. For them the only
effect is ``Vary: Origin`` on the response, which this path adds the same way. Requests with an
``Origin`` (browsers) take Starlette's own code, unchanged.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware


class Cors(CORSMiddleware):
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or any(name == b"origin" for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def send_vary(message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
            await send(message)

        await self.app(scope, receive, send_vary)
