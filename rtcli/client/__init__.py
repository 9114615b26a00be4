"""rtcli's client library: REST (``api``), realtime (``realtime``) and settings (``config``).

It imports only ``rtcli.protocol``, ``rtcli.errors`` and ``rtcli.ids`` from rtcli, so it works
the same against a local ``rtcli serve`` or any Appwrite-compatible endpoint. The names below are
loaded on first use: importing ``rtcli.client`` must stay cheap for the CLI's start-up time.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "ApiClient": "rtcli.client.api",
    "TablesDB": "rtcli.client.api",
    "ConnectionFailed": "rtcli.client.api",
    "RealtimeClient": "rtcli.client.realtime",
    "RealtimeFatal": "rtcli.client.realtime",
    "parse_since": "rtcli.client.realtime",
    "Settings": "rtcli.client.config",
    "ProfileStore": "rtcli.client.config",
    "resolve_settings": "rtcli.client.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rtcli.client' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
