"""The official Python SDK (PyPI ``appwrite`` 27) against a real ``rtcli serve``.

Tests reach every SDK service through an ``Sdk`` (``sdk.tables_db``, ``sdk.teams``, …, named as
the SDK's modules), so that tests/compat_python/test_table.py can see, from the source, which
SDK methods the suite calls; docs/compatibility.md lists every method and its state.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest

appwrite = pytest.importorskip("appwrite", reason="the Python SDK suite needs `pip install -e '.[test]'`")

from appwrite.client import Client  # noqa: E402
from appwrite.id import ID  # noqa: E402
from appwrite.services.account import Account  # noqa: E402
from appwrite.services.databases import Databases  # noqa: E402
from appwrite.services.functions import Functions  # noqa: E402
from appwrite.services.presences import Presences  # noqa: E402
from appwrite.services.storage import Storage  # noqa: E402
from appwrite.services.tables_db import TablesDB  # noqa: E402
from appwrite.services.teams import Teams  # noqa: E402
from appwrite.services.users import Users  # noqa: E402

from tests.conftest import Server, start_server  # noqa: E402

PASSWORD = "password-123"


@dataclass
class Sdk:
    """One SDK Client and its services."""

    client: Client
    tables_db: TablesDB
    teams: Teams
    account: Account
    storage: Storage
    functions: Functions
    presences: Presences
    users: Users
    databases: Databases
    user_id: str = ""
    email: str = ""

    @classmethod
    def of(cls, client: Client, **extra) -> Sdk:
        return cls(client, TablesDB(client), Teams(client), Account(client), Storage(client), Functions(client),
                   Presences(client), Users(client), Databases(client), **extra)


def client_for(server: Server) -> Client:
    return Client().set_endpoint(server.endpoint).set_project(server.project)


def new_user(server: Server, admin: Sdk, name: str = "user") -> Sdk:
    """Sign up a user and log in server-side: the key creates the session, whose ``secret``
    then authenticates the user's own Client (``set_session``)."""
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    guest = Sdk.of(client_for(server))
    user = guest.account.create(ID.unique(), email, PASSWORD, name)
    session = admin.account.create_email_password_session(email, PASSWORD)
    assert session.secret, "a session created with an API key carries its secret"
    return Sdk.of(client_for(server).set_session(session.secret), user_id=user.id, email=email)


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("sdk") / "data")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(sdk_server) -> Sdk:
    """The SDK acting as the server (API key)."""
    return Sdk.of(client_for(sdk_server).set_key(sdk_server.api_key))


@pytest.fixture
def user(sdk_server, admin) -> Sdk:
    """A fresh signed-in user."""
    return new_user(sdk_server, admin)


@pytest.fixture
def guest(sdk_server) -> Sdk:
    return Sdk.of(client_for(sdk_server))


def uid() -> str:
    return "t" + secrets.token_hex(6)
