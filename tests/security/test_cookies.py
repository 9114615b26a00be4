"""Session cookies: ``SameSite=Lax`` unless asked otherwise, so that other sites' pages do not
get the browser to attach them; ``Secure`` on both cookies (``_legacy`` too) whenever the
request came over HTTPS, including through a trusted proxy's ``X-Forwarded-Proto``, and only
then."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import start_server

CREDENTIALS = {"email": "cookie@example.com", "password": "password123"}


def _session_cookies(server, headers: dict | None = None) -> dict[str, dict[str, str | bool]]:
    """Sign in (signing up once) and return each Set-Cookie's attributes, by cookie name."""
    with httpx.Client(base_url=server.endpoint, headers={"X-Appwrite-Project": server.project, **(headers or {})},
                      timeout=10) as c:
        c.post("/account", json={"userId": "unique()", **CREDENTIALS})
        r = c.post("/account/sessions/email", json=CREDENTIALS)
        assert r.status_code == 201, r.text
        cookies = {}
        for line in r.headers.get_list("set-cookie"):
            name_value, *attrs = [p.strip() for p in line.split(";")]
            parsed: dict[str, str | bool] = {}
            for a in attrs:
                k, _, v = a.partition("=")
                parsed[k.lower()] = v or True
            cookies[name_value.split("=", 1)[0]] = parsed
        assert set(cookies) == {"a_session_default", "a_session_default_legacy"}, cookies
        return cookies


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("cookies") / "data")
    yield srv
    srv.stop()


def test_default_cookies_are_lax_and_secure_on_localhost(server):
    for name, attrs in _session_cookies(server).items():
        assert attrs["samesite"] == "lax", (name, attrs)
        assert attrs.get("secure") is True and attrs.get("httponly") is True, (name, attrs)


def test_plain_http_host_gets_no_secure_cookie(server):
    # a plain-HTTP name other than localhost: Secure would make the browser drop the cookie
    for name, attrs in _session_cookies(server, {"Host": "api.example.com"}).items():
        assert "secure" not in attrs and attrs["samesite"] == "lax", (name, attrs)


def test_trusted_proxy_https_makes_both_cookies_secure(server):
    # the test runs on 127.0.0.1, the default trusted proxy
    cookies = _session_cookies(server, {"Host": "api.example.com", "X-Forwarded-Proto": "https"})
    for name, attrs in cookies.items():
        assert attrs.get("secure") is True and attrs["samesite"] == "lax", (name, attrs)


def test_untrusted_proxy_header_is_ignored(tmp_path):
    srv = start_server(tmp_path / "data", extra=["--forwarded-allow-ips", "192.0.2.1"])
    try:
        cookies = _session_cookies(srv, {"Host": "api.example.com", "X-Forwarded-Proto": "https"})
        for name, attrs in cookies.items():
            assert "secure" not in attrs, (name, attrs)
    finally:
        srv.stop()


def test_cross_site_apps_can_ask_for_samesite_none(tmp_path):
    srv = start_server(tmp_path / "data", extra=["--cookie-samesite", "none"])
    try:
        for name, attrs in _session_cookies(srv).items():  # localhost: Secure, so None is allowed
            assert attrs["samesite"] == "none" and attrs.get("secure") is True, (name, attrs)
        for name, attrs in _session_cookies(srv, {"Host": "api.example.com"}).items():
            assert attrs["samesite"] == "lax" and "secure" not in attrs, (name, attrs)  # browsers refuse None without Secure
    finally:
        srv.stop()


def test_sign_out_clears_both_cookies_with_the_same_attributes(server):
    with httpx.Client(base_url=server.endpoint, headers={"X-Appwrite-Project": server.project}, timeout=10) as c:
        c.post("/account", json={"userId": "unique()", **CREDENTIALS})
        token = c.post("/account/sessions/email", json=CREDENTIALS).cookies["a_session_default"]
        r = c.delete("/account/sessions/current", headers={"X-Appwrite-Session": token})
        assert r.status_code == 204
        lines = r.headers.get_list("set-cookie")
        assert len(lines) == 2 and all("Max-Age=0" in line and "SameSite=lax" in line and "Secure" in line
                                       for line in lines), lines
