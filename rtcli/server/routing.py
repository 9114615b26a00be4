"""Routes looked up by the shape of the path, instead of tried one by one.

Starlette's router tries every route in order, a regular expression match each: a route
declared ~90th (a topic's messages) paid for the ~90 before it on every request, more CPU than
the publish use case itself. ``SegmentIndex`` is one route holding them all that tries
only those that can match the path: same first segment (or a parameter there, as in the
catch-all) and same number of slashes (or a ``{...:path}`` parameter, which may hold slashes),
in their declared order. A route left out can match neither fully nor partially, so the
outcome (the first full match, else the first partial one: 405) is the linear scan's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send


def _key(path: str) -> tuple[str, int]:
    """(first segment, number of slashes): ("topics", 3) for ``/topics/{topic}/messages``."""
    return (path.split("/", 2)[1] if path.startswith("/") else ""), path.count("/")


def _route_key(route: BaseRoute) -> tuple[str | None, int | None]:
    """What a path must have for the route to match it: its first segment when that is literal
    text, and its number of slashes unless a ``{...:path}`` parameter may hold slashes (every
    other convertor stops at one). None: any."""
    path = getattr(route, "path", None)
    if not isinstance(route, Route) or not isinstance(path, str):
        return None, None
    first, slashes = _key(path)
    return (first if first and "{" not in first else None), (None if ":path}" in path else slashes)


class SegmentIndex(BaseRoute):
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = list(routes)
        keys = [_route_key(r) for r in self.routes]

        def able(first: str | None, slashes: int | None) -> list[BaseRoute]:
            """The routes that may match a path of this first segment and slash count, in order."""
            return [r for r, (f, n) in zip(self.routes, keys)
                    if f in (None, first) and (n is None or n == slashes)]

        self._any = able(None, None)
        self._by_first = {f: able(f, None) for f, _ in keys if f is not None}
        self._by_key = {(f, n): able(f, n) for f, n in keys if f is not None and n is not None}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        key = _key(get_route_path(scope))
        candidates = self._by_key.get(key) or self._by_first.get(key[0]) or self._any
        partial: tuple[Match, Scope] | None = None
        for route in candidates:
            match, child = route.matches(scope)
            if match is Match.FULL:
                # The router sets scope["route"] to this index, then applies the child scope:
                # the route that matched is what handles the request and what scope["route"] names.
                return match, {**child, "route": route}
            if match is Match.PARTIAL and partial is None:
                partial = match, {**child, "route": route}
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["route"].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)
