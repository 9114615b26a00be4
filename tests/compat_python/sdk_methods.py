"""Every public method of the Python SDK's services, with the HTTP route it calls.

The route is found by calling the method on a Client that records the request instead of
sending it, with placeholder arguments built from the method's annotations; so the list
follows the installed SDK and needs no network.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import typing
import warnings
from dataclasses import dataclass
from typing import Any

from appwrite.client import Client
from appwrite.input_file import InputFile


@dataclass(frozen=True)
class SdkMethod:
    service: str  # the SDK module's name: tables_db, teams, account, …
    name: str  # the Python method name: create_row
    http: str  # GET, POST, …
    path: str  # /tablesdb/{databaseId}/tables/{tableId}/rows

    @property
    def route(self) -> str:
        return f"{self.http} {self.path}"


class _Sent(Exception):
    """Raised by the recording client in place of sending a request."""


class _RecordingClient(Client):
    def __init__(self) -> None:
        super().__init__()
        self.set_project("p")
        self.request: tuple[str, str] | None = None

    def call(self, method, path="", headers=None, params=None, response_type="json"):
        self.request = (method.upper(), path)
        raise _Sent

    def chunked_upload(self, path, headers=None, params=None, param_name="", on_progress=None, upload_id="",
                       response_type="json", method="post"):
        self.request = (method.upper(), path)
        raise _Sent


# A placeholder for each parameter, recognisable in a path as "{name}" would be.
PLACEHOLDER = "__P__"


def placeholder(annotation: Any, name: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        return placeholder(next(a for a in args if a is not type(None)), name)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if inspect.isclass(annotation):
        if issubclass(annotation, enum.Enum):  # sent as its value; a string keeps a path's {param} visible
            return f"{PLACEHOLDER}{name}{PLACEHOLDER}"
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, (int, float)):
            return 1
        if issubclass(annotation, InputFile):
            return InputFile.from_bytes(b"x", "x.txt")
    return f"{PLACEHOLDER}{name}{PLACEHOLDER}"


def placeholder_args(func) -> dict[str, Any]:
    """Keyword arguments for every required parameter of ``func`` (optional ones left out)."""
    hints = typing.get_type_hints(func)
    out = {}
    for pname, p in inspect.signature(func).parameters.items():
        if pname == "self" or p.default is not inspect.Parameter.empty:
            continue
        out[pname] = placeholder(hints.get(pname, str), pname)
    return out


def service_class(service: str) -> type:
    module = importlib.import_module(f"appwrite.services.{service}")
    return next(c for _, c in inspect.getmembers(module, inspect.isclass)
                if c.__module__ == module.__name__ and not c.__name__.startswith("_"))


def methods_of(service: str) -> list[SdkMethod]:
    """The public methods of one SDK service, in source order, with their routes."""
    cls = service_class(service)
    out = []
    for name, func in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_"):
            continue
        client = _RecordingClient()
        try:
            # Deprecated methods are still methods; their warnings are recorded, not printed.
            with warnings.catch_warnings(record=True):
                getattr(cls(client), name)(**placeholder_args(func))
        except _Sent:
            pass
        assert client.request, f"{service}.{name} sent no request"
        http, path = client.request
        out.append(SdkMethod(service, name, http, _pattern(path, func)))
    return out


def _pattern(path: str, func) -> str:
    """The path with its parameters as Appwrite writes them: /teams/{teamId}."""
    parts = []
    for seg in path.split("/"):
        if PLACEHOLDER in seg:
            pname = seg.split(PLACEHOLDER)[1]
            seg = "{" + _camel(pname) + "}"
        parts.append(seg)
    return "/".join(parts)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)
