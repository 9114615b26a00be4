"""The Appwrite API that rtcli does not offer: a clear ``general_not_implemented`` (405, as
Appwrite answers a method it does not implement) that says why, instead of a bare 404.

This route is mounted last, so it only sees requests no other route took: a path of one of
Appwrite's services (or a method a path does not take) gets the reason for its area; any other
path is ``general_route_not_found``. docs/compatibility.md lists every SDK method and its state;
tests/compat_python checks that each method listed as not offered gets this answer.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtcli.errors import AppwriteError

# (path pattern under /v1, what is missing and why), most specific first.
_AREAS: list[tuple[str, str]] = [
    (r"/account/mfa\b", "multi-factor authentication: rtcli signs in with email and password or anonymously"),
    (r"/account/(tokens/(email|magic-url|phone)|verifications|recovery)\b",
     "email and SMS flows: rtcli sends no email or SMS"),
    (r"/account/(tokens/oauth2|sessions/oauth2|identities|consents)\b", "OAuth2: rtcli has no identity providers"),
    (r"/account/(passkeys|tokens/passkey)\b", "passkeys (WebAuthn)"),
    (r"/account/sessions/(magic-url|phone|id-token)\b", "token sessions from email, SMS or identity providers"),
    (r"/account/phone\b", "phone numbers: rtcli sends no SMS"),
    (r"/(tablesdb|databases)/[^/]+/(tables|collections)/[^/]+/(columns|attributes)/"
     r"((relationship|point|line|polygon)\b|[^/]+/relationship\b)", "relationship and spatial columns"),
    (r"/(tablesdb|databases)/[^/]+/(tables|collections)/[^/]+/(columns|attributes)/bigint\b",
     "bigint columns: use integer (64-bit)"),
    (r"/(tablesdb|databases)/[^/]+/(tables|collections)/[^/]+/(columns|attributes)/[^/]+/[^/]+$",
     "changing a column once made: delete it and create it again"),
    (r"/(tablesdb|databases)/[^/]+/(tables|collections)/[^/]+/(rows|documents)/query\b",
     "queries sent in a request body; pass them in the query string"),
    (r"/(tablesdb|databases)/[^/]+/(tables|collections)/[^/]+/(rows|documents)$",
     "bulk updates, upserts and deletes here"),
    (r"/tablesdb/specifications\b|/tablesdb/[^/]+/(migrations|failovers|replicas|status|operations)\b",
     "dedicated database instances: every database lives in the server's one SQLite or PostgreSQL store"),
    (r"/functions/[^/]+/(deployments?|variables)\b",
     "deployments and variables: a function is a local command run on the server's machine"),
    (r"/teams/[^/]+/installations\b", "app installations"),
]
# Appwrite services rtcli does not run at all: the first path segment, and why.
_SERVICES: dict[str, str] = {
    "activities": "activity logs", "reports": "advisor reports", "apps": "apps", "avatars": "avatars",
    "backups": "backups", "documentsdb": "DocumentsDB (use TablesDB)", "domains": "domains",
    "embeddings": "embeddings", "graphql": "GraphQL (use the REST API)", "locale": "locale data",
    "messaging": "messaging (rtcli sends no email, SMS or push)", "mongo": "dedicated MongoDB databases",
    "mysql": "dedicated MySQL databases", "oauth2": "OAuth2 (rtcli has no identity providers)",
    "organization": "organizations", "postgresql": "dedicated PostgreSQL databases",
    "project": "project settings (rtcli's projects are given to `rtcli serve --project`)",
    "proxy": "proxy rules", "sites": "sites", "tokens": "file tokens", "vectorsdb": "VectorsDB", "waf": "firewall rules",
    "webhooks": "webhooks (subscribe to realtime channels, or run a function on events)",
    "users": "this Users operation", "databases": "this Databases operation",
    "account": "this Account operation", "tablesdb": "this TablesDB operation", "teams": "this Teams operation",
    "storage": "this Storage operation", "functions": "this Functions operation", "presences": "this Presences operation",
    "health": "this health check",
}
_COMPILED = [(re.compile(p), why) for p, why in _AREAS]


def reason(path: str) -> str | None:
    """Why rtcli does not offer ``path`` (under /v1), or None when it is no Appwrite path."""
    for pattern, why in _COMPILED:
        if pattern.match(path):
            return why
    return _SERVICES.get(path.strip("/").split("/", 1)[0])


def not_offered(request: Request) -> AppwriteError:
    """The error for a request rtcli does not serve (routes that take a path parameter, such as
    /tablesdb/{databaseId}, use it for the Appwrite paths their parameter would swallow)."""
    path = request.url.path.removeprefix("/v1")
    why = reason(path)
    if why is None:
        return AppwriteError("general_route_not_found")
    return AppwriteError("general_not_implemented", f"rtcli does not offer {why} ({request.method} /v1{path}). "
                                                    "See docs/compatibility.md for what it supports.")


async def _fallback(request: Request) -> Response:
    raise not_offered(request)


# Last in the /v1 mount: only what no other route matched (path or method) reaches it.
routes = [Route("/{path:path}", _fallback, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
