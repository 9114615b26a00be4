"""Account, Teams and API keys (``/v1/account``, ``/v1/teams``, ``/v1/keys``), one method each.

A session's token is what the SDKs keep in the ``a_session_<project>`` cookie. The server also
sends it, for clients that cannot keep cookies, in the ``X-Fallback-Cookies`` response header as
``{"a_session_<project>": "<token>"}``; ``Account.create_email_session`` returns it from there.
A client then authenticates with ``X-Appwrite-Session: <token>`` (REST and the realtime handshake).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rtcli.client.api import ApiClient, _drop_none, _seg
from rtcli.errors import RtcliError


class NoSessionToken(RtcliError):
    """The server created a session but sent no token a client without cookies could keep."""


def session_token(headers: Any, project: str) -> str | None:
    """The token in an ``X-Fallback-Cookies`` header (None when absent or not for ``project``)."""
    raw = headers.get("x-fallback-cookies")
    if not raw:
        return None
    try:
        cookies = json.loads(raw)
    except ValueError:
        return None
    token = cookies.get(f"a_session_{project}") if isinstance(cookies, dict) else None
    return token if isinstance(token, str) and token else None


class Account:
    """The caller's own account and sessions."""

    def __init__(self, client: ApiClient, project: str) -> None:
        self.client = client
        self.project = project

    def create(self, user_id: str, email: str, password: str, name: str | None = None) -> dict:
        return self.client.call("POST", "/account", body=_drop_none(
            {"userId": user_id, "email": email, "password": password, "name": name}))

    def get(self) -> dict:
        return self.client.call("GET", "/account")

    def create_email_session(self, email: str, password: str) -> tuple[dict, str]:
        """Log in; returns (the Session, its token). Raises NoSessionToken if no token came back."""
        session, headers = self.client.call_with_headers(
            "POST", "/account/sessions/email", body={"email": email, "password": password})
        token = session_token(headers, self.project)
        if token is None:
            raise NoSessionToken("the server created a session but sent no X-Fallback-Cookies token")
        return session, token

    def get_session(self, session_id: str = "current") -> dict:
        return self.client.call("GET", f"/account/sessions/{_seg(session_id)}")

    def delete_session(self, session_id: str = "current") -> None:
        self.client.call("DELETE", f"/account/sessions/{_seg(session_id)}")


class Teams:
    """Teams and their memberships."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def create(self, team_id: str, name: str, roles: Sequence[str] | None = None) -> dict:
        return self.client.call("POST", "/teams", body=_drop_none(
            {"teamId": team_id, "name": name, "roles": None if roles is None else list(roles)}))

    def list(self, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", "/teams", params={"queries": list(queries)})

    def get(self, team_id: str) -> dict:
        return self.client.call("GET", f"/teams/{_seg(team_id)}")

    def delete(self, team_id: str) -> None:
        self.client.call("DELETE", f"/teams/{_seg(team_id)}")

    def _memberships(self, team_id: str) -> str:
        return f"/teams/{_seg(team_id)}/memberships"

    def create_membership(self, team_id: str, roles: Sequence[str], *, user_id: str | None = None,
                          email: str | None = None) -> dict:
        body = _drop_none({"roles": list(roles), "userId": user_id, "email": email})
        return self.client.call("POST", self._memberships(team_id), body=body)

    def list_memberships(self, team_id: str, queries: Sequence[str] = ()) -> dict:
        return self.client.call("GET", self._memberships(team_id), params={"queries": list(queries)})

    def update_membership(self, team_id: str, membership_id: str, roles: Sequence[str]) -> dict:
        return self.client.call("PATCH", f"{self._memberships(team_id)}/{_seg(membership_id)}",
                                body={"roles": list(roles)})

    def delete_membership(self, team_id: str, membership_id: str) -> None:
        self.client.call("DELETE", f"{self._memberships(team_id)}/{_seg(membership_id)}")


class Keys:
    """API keys of the project (rtcli extension). The secret is in the response to ``create`` only."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def create(self, name: str, scopes: Sequence[str]) -> dict:
        return self.client.call("POST", "/keys", body={"name": name, "scopes": list(scopes)})

    def list(self) -> dict:
        return self.client.call("GET", "/keys")

    def delete(self, key_id: str) -> None:
        self.client.call("DELETE", f"/keys/{_seg(key_id)}")


class Users:
    """Users of the project, as a server manages them (needs an API key with users.read/users.write)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def create(self, user_id: str, email: str | None = None, password: str | None = None,
               name: str | None = None, phone: str | None = None) -> dict:
        return self.client.call("POST", "/users", body=_drop_none(
            {"userId": user_id, "email": email, "password": password, "name": name, "phone": phone}))

    def list(self, queries: Sequence[str] = (), search: str | None = None) -> dict:
        return self.client.call("GET", "/users", params=_drop_none({"queries": list(queries), "search": search}))

    def get(self, user_id: str) -> dict:
        return self.client.call("GET", f"/users/{_seg(user_id)}")

    def delete(self, user_id: str) -> None:
        self.client.call("DELETE", f"/users/{_seg(user_id)}")

    def update(self, user_id: str, field: str, body: dict) -> dict:
        """One field: name, email, phone (``number``), password, status, prefs, verification, labels."""
        method = "PUT" if field == "labels" else "PATCH"
        return self.client.call(method, f"/users/{_seg(user_id)}/{field}", body=body)

    def list_sessions(self, user_id: str) -> dict:
        return self.client.call("GET", f"/users/{_seg(user_id)}/sessions")

    def create_session(self, user_id: str) -> dict:
        return self.client.call("POST", f"/users/{_seg(user_id)}/sessions")

    def delete_sessions(self, user_id: str) -> None:
        self.client.call("DELETE", f"/users/{_seg(user_id)}/sessions")
