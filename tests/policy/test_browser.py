"""BrowserPolicy: when a cookie counts, and when a cookie request is refused as cross-site.

Every case goes through the real middleware in front of a counting app: a request either
reaches the app with the cookie's identity, reaches nothing (401: the cookie was not used), or
is refused as cross-site (403, no challenge). Header credentials are never judged this way.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from apps import RecordingApp, client, protect
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tokens import settings, token

from asgi_mcp_auth import AuthSettings, BrowserPolicy, ConfigurationError

pytestmark = pytest.mark.anyio

ORIGIN = "https://gw.example.com"
COOKIE_TOKEN = token("alice", roles=["admin"])
HEADER_TOKEN = token("bob", roles=["viewer"])
COOKIE = f"jwt_token={COOKIE_TOKEN}"

# What Chromium sends for `fetch(url, {method: "POST", credentials: "same-origin"})` from a page.
SAME_ORIGIN_FETCH = {
    "Origin": ORIGIN,
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Dest": "empty",
}
# What Chromium sends when the identity provider redirects the browser back (a top-level navigation).
IDP_REDIRECT = {
    "Referer": "https://idp.example.net/",
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}


async def call(
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]],
    *,
    config: AuthSettings | None = None,
    base_url: str = ORIGIN,
) -> tuple[httpx.Response, RecordingApp]:
    app = RecordingApp()
    async with client(protect(app, config), base_url=base_url) as http:
        response = await http.request(method, path, headers=headers)
    return response, app


def assert_cookie_used(response: httpx.Response, app: RecordingApp) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["sub"] == "alice"
    assert response.json()["token_source"] == "cookie"
    assert app.calls == 1


def assert_cookie_ignored(response: httpx.Response, app: RecordingApp) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert app.calls == 0


def assert_refused_cross_site(response: httpx.Response, app: RecordingApp) -> None:
    assert response.status_code == 403
    assert response.json() == {"detail": "Cross-site request refused"}
    assert "www-authenticate" not in response.headers
    assert app.calls == 0


# --- requests from an allowlisted same-origin page ------------------------------------------


async def test_seed_003_oauth_callback_page_fetch_with_json_accept_uses_cookie() -> None:
    # The OAuth success page's "Fetch Tools from MCP Server" button: a same-origin fetch whose
    # Referer is /oauth/callback?code=... and which asks for JSON. Seed 003 refused it as "not a
    # browser request" because the Referer did not contain "/admin" and Accept had no text/html.
    headers = {
        **SAME_ORIGIN_FETCH,
        "Referer": f"{ORIGIN}/oauth/callback?code=4/0Ab-xyz&state=gw-1",
        "Accept": "application/json",
        "Cookie": COOKIE,
    }
    response, app = await call("POST", "/oauth/fetch-tools/gw-1", headers)
    assert_cookie_used(response, app)


@pytest.mark.parametrize(
    "referer",
    [
        f"{ORIGIN}/admin",
        f"{ORIGIN}/admin/",
        f"{ORIGIN}/admin/gateways?tab=oauth&next=/x",
        f"{ORIGIN}/oauth/callback",
        f"{ORIGIN}/oauth/callback?code=abc&state=xyz",
        "https://gw.example.com:443/admin/gateways",  # the default port, spelled out
        "https://GW.Example.COM/admin",  # host names are case-insensitive
        "HTTPS://gw.example.com/admin",  # so are schemes
    ],
)
async def test_same_origin_request_from_an_allowlisted_page_uses_the_cookie(referer: str) -> None:
    headers = {**SAME_ORIGIN_FETCH, "Referer": referer, "Accept": "application/json", "Cookie": COOKIE}
    for method in ("GET", "POST", "DELETE"):
        response, app = await call(method, "/api/gateways", headers)
        assert_cookie_used(response, app)


async def test_browser_without_fetch_metadata_is_judged_by_origin_and_referer() -> None:
    headers = {"Origin": ORIGIN, "Referer": f"{ORIGIN}/admin", "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers)
    assert_cookie_used(response, app)


@pytest.mark.parametrize(
    "path",
    [
        "/administrator",
        "/admin-x",
        "/adminx/y",
        "/oauth/callbackevil",
        "/oauth",
        "/api?next=/admin",
        "/api#/admin",
        "/api/admin",
        "/admin/../api",
        "/admin/./gateways",
        "/admin%2F..",
        "/admin%2f..%2fapi",
        "/admin/%2e%2e/api",
        "/admin/%252e%252e/api",
        "/admin\\..\\api",
        "//admin",
        "/ADMIN",
        "/",
    ],
)
async def test_page_outside_the_allowlist_does_not_make_a_browser_request(path: str) -> None:
    # Same origin, but not an allowlisted page: the cookie is ignored (no CSRF refusal, no 403).
    headers = {**SAME_ORIGIN_FETCH, "Referer": f"{ORIGIN}{path}", "Cookie": COOKIE}
    for method in ("GET", "POST"):
        response, app = await call(method, "/api/gateways", headers)
        assert_cookie_ignored(response, app)


@pytest.mark.parametrize(
    "referer",
    [
        "https://gw.example.com.evil.com/admin",
        "https://gw@evil.com/admin",
        "https://gw.example.com@evil.com/admin",
        "https://gw.example.com:8443/admin",
        "http://gw.example.com/admin",
        "https://evil.example/admin",
        "https://sub.gw.example.com/admin",
        "/admin",  # not an absolute URL
        "null",
        "https://gw.example.com:99999/admin",  # no such port
    ],
)
async def test_referer_from_another_origin_is_cross_site(referer: str) -> None:
    # An older browser without Fetch Metadata or Origin: the Referer alone tells the origin.
    headers = {"Referer": referer, "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers)
    assert_refused_cross_site(response, app)
    response, app = await call("GET", "/api/gateways", headers)
    assert_cookie_ignored(response, app)


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://gw.example.com", "https://gw.example.com:444"]
)
async def test_allowlisted_referer_with_a_foreign_origin_is_refused(origin: str) -> None:
    headers = {**SAME_ORIGIN_FETCH, "Origin": origin, "Referer": f"{ORIGIN}/admin", "Cookie": COOKIE}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response, app = await call(method, "/api/gateways", headers)
        assert_refused_cross_site(response, app)
    response, app = await call("GET", "/api/gateways", headers)
    assert_cookie_ignored(response, app)


@pytest.mark.parametrize("site", ["cross-site", "same-site", "none", "Same-Origin"])
async def test_fetch_metadata_other_than_same_origin_is_refused(site: str) -> None:
    headers = {**SAME_ORIGIN_FETCH, "Sec-Fetch-Site": site, "Referer": f"{ORIGIN}/admin", "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers)
    assert_refused_cross_site(response, app)
    response, app = await call("GET", "/api/gateways", headers)
    assert_cookie_ignored(response, app)


async def test_json_accept_from_an_allowlisted_page_is_still_a_browser_request() -> None:
    headers = {**SAME_ORIGIN_FETCH, "Referer": f"{ORIGIN}/admin", "Accept": "application/json", "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers)
    assert_cookie_used(response, app)


async def test_html_accept_alone_never_makes_an_api_request_a_browser_request() -> None:
    headers = {"Accept": "text/html,application/xhtml+xml", "Cookie": COOKIE}
    for method in ("GET", "POST"):
        response, app = await call(method, "/api/gateways", headers)
        assert_cookie_ignored(response, app)


async def test_cookie_without_any_browser_signal_is_ignored() -> None:
    # curl -b jwt_token=... or an SDK client: "use the Authorization header".
    for method in ("GET", "POST"):
        response, app = await call(method, "/api/gateways", {"Cookie": COOKIE, "Accept": "application/json"})
        assert_cookie_ignored(response, app)


async def test_frame_request_from_an_allowlisted_page_does_not_use_the_cookie() -> None:
    headers = {
        "Referer": f"{ORIGIN}/admin",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "iframe",
        "Cookie": COOKIE,
    }
    response, app = await call("GET", "/api/gateways", headers)
    assert_cookie_ignored(response, app)


# --- top-level navigations ------------------------------------------------------------------


async def test_identity_provider_redirect_to_the_oauth_callback_loads_with_the_cookie() -> None:
    response, app = await call("GET", "/oauth/callback?code=abc&state=xyz", {**IDP_REDIRECT, "Cookie": COOKIE})
    assert_cookie_used(response, app)


@pytest.mark.parametrize("dest", ["iframe", "frame", "object", "embed"])
async def test_the_oauth_callback_framed_by_another_site_does_not_use_the_cookie(dest: str) -> None:
    headers = {**IDP_REDIRECT, "Sec-Fetch-Dest": dest, "Cookie": COOKIE}
    response, app = await call("GET", "/oauth/callback?code=abc&state=xyz", headers)
    assert_cookie_ignored(response, app)


@pytest.mark.parametrize("path", ["/admin", "/admin/gateways", "/oauth/callback"])
async def test_navigation_to_an_allowlisted_page_uses_the_cookie_whatever_the_site(path: str) -> None:
    for site in ("none", "same-origin", "same-site", "cross-site"):
        headers = {**IDP_REDIRECT, "Sec-Fetch-Site": site, "Cookie": COOKIE}
        for method in ("GET", "HEAD"):
            response, app = await call(method, path, headers)
            assert response.status_code == 200, (site, method)
            assert app.calls == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/gateways",
        "/administrator",
        "/oauth/callbackevil",
        "/oauth%2Fcallback",
        "/admin%2Fgateways",
        "/admin/%2e%2e/api",
        "/admin%2F..%2Fapi",
        "/admin%252F",
    ],
)
async def test_cross_site_navigation_to_any_other_page_does_not_use_the_cookie(path: str) -> None:
    response, app = await call("GET", path, {**IDP_REDIRECT, "Cookie": COOKIE})
    assert_cookie_ignored(response, app)


async def test_cross_site_form_post_to_an_allowlisted_page_is_refused() -> None:
    headers = {**IDP_REDIRECT, "Origin": "https://idp.example.net", "Cookie": COOKIE}
    response, app = await call("POST", "/oauth/callback", headers)
    assert_refused_cross_site(response, app)


async def test_navigation_from_a_browser_without_fetch_metadata_needs_html_accept() -> None:
    html = {"Accept": "text/html,application/xhtml+xml;q=0.9", "Cookie": COOKIE}
    response, app = await call("GET", "/oauth/callback?code=abc", html)
    assert_cookie_used(response, app)
    response, app = await call(
        "GET", "/oauth/callback?code=abc", {"Accept": "application/xhtml+html", "Cookie": COOKIE}
    )
    assert_cookie_ignored(response, app)


# --- header credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "signals",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"},
        {"Origin": "null"},
        {"Referer": f"{ORIGIN}/api"},
        {},
    ],
)
async def test_header_credential_is_unaffected_by_browser_signals(signals: dict[str, str]) -> None:
    headers = {**signals, "Authorization": f"Bearer {HEADER_TOKEN}", "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers)
    assert response.status_code == 200
    assert response.json()["sub"] == "bob"
    assert response.json()["token_source"] == "header"
    assert app.calls == 1


# --- origins: public origin behind a proxy, trusted origins ---------------------------------


async def test_public_origin_is_the_origin_browsers_see_behind_a_proxy() -> None:
    # The proxy forwards to http://10.0.0.5:8000; the browser is on https://gw.example.com.
    config = settings(public_origin="https://gw.example.com")
    headers = {**SAME_ORIGIN_FETCH, "Referer": f"{ORIGIN}/admin", "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers, config=config, base_url="http://10.0.0.5:8000")
    assert_cookie_used(response, app)


async def test_behind_a_proxy_without_public_origin_the_cookie_is_refused() -> None:
    headers = {**SAME_ORIGIN_FETCH, "Referer": f"{ORIGIN}/admin", "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers, base_url="http://10.0.0.5:8000")
    assert_refused_cross_site(response, app)


async def test_with_public_origin_set_the_request_host_no_longer_counts() -> None:
    config = settings(public_origin="https://gw.example.com")
    internal = "http://10.0.0.5:8000"
    headers = {**SAME_ORIGIN_FETCH, "Origin": internal, "Referer": f"{internal}/admin", "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers, config=config, base_url=internal)
    assert_refused_cross_site(response, app)


async def test_trusted_origin_page_may_use_the_cookie() -> None:
    # The same gateway reached under a second name (PUBLIC_ORIGIN pins the first one).
    second = "https://gateway.internal.example"
    config = settings(public_origin=ORIGIN, trusted_origins=[second])
    headers = {**SAME_ORIGIN_FETCH, "Origin": second, "Referer": f"{second}/admin", "Cookie": COOKIE}
    response, app = await call("POST", "/api/gateways", headers, config=config, base_url=second)
    assert_cookie_used(response, app)
    untrusted = {**headers, "Origin": "https://other.example", "Referer": "https://other.example/admin"}
    response, app = await call("POST", "/api/gateways", untrusted, config=config, base_url=second)
    assert_refused_cross_site(response, app)


async def test_trusted_origin_still_needs_fetch_metadata_to_say_same_origin() -> None:
    # A page on a trusted but different origin: Chromium says same-site, which is refused.
    trusted = "https://admin.example.com"
    config = settings(trusted_origins=[trusted])
    headers = {**SAME_ORIGIN_FETCH, "Sec-Fetch-Site": "same-site", "Origin": trusted, "Referer": f"{trusted}/admin"}
    response, app = await call("POST", "/api/gateways", {**headers, "Cookie": COOKIE}, config=config)
    assert_refused_cross_site(response, app)


@pytest.mark.parametrize(
    "options",
    [
        {"public_origin": "gw.example.com"},
        {"public_origin": "https://gw.example.com/admin"},
        {"public_origin": "https://user@gw.example.com"},
        {"public_origin": "https://gw.example.com?x=1"},
        {"public_origin": "ftp://gw.example.com"},
        {"trusted_origins": ["https://ok.example", "null"]},
    ],
)
def test_an_origin_setting_that_is_not_an_origin_is_refused_at_start_up(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="must be an origin"):
        protect(RecordingApp(), settings(**options))


# --- cookie hygiene (precedence.py) ---------------------------------------------------------


@pytest.mark.parametrize(
    "cookie_headers",
    [
        [("Cookie", f"jwt_token={COOKIE_TOKEN}; jwt_token={HEADER_TOKEN}")],
        [("Cookie", f"jwt_token={COOKIE_TOKEN}; theme=dark; jwt_token={COOKIE_TOKEN}")],
        [("Cookie", f"jwt_token={COOKIE_TOKEN}"), ("Cookie", f"jwt_token={HEADER_TOKEN}")],
        [("Cookie", f"theme=dark; jwt_token={COOKIE_TOKEN}"), ("Cookie", "jwt_token=")],
    ],
)
async def test_two_cookies_of_the_token_name_are_a_bad_request(cookie_headers: list[tuple[str, str]]) -> None:
    headers = [*SAME_ORIGIN_FETCH.items(), ("Referer", f"{ORIGIN}/admin"), *cookie_headers]
    response, app = await call("POST", "/api/gateways", headers)
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    assert app.calls == 0


async def test_one_token_cookie_among_several_cookie_headers_is_used() -> None:
    headers = [*SAME_ORIGIN_FETCH.items(), ("Referer", f"{ORIGIN}/admin"), ("Cookie", "theme=dark"), ("Cookie", COOKIE)]
    response, app = await call("POST", "/api/gateways", headers)
    assert_cookie_used(response, app)


async def test_host_prefixed_cookie_name_is_the_only_cookie_that_counts() -> None:
    config = settings(cookie_name="__Host-jwt_token")
    headers = {**SAME_ORIGIN_FETCH, "Referer": f"{ORIGIN}/admin"}
    response, app = await call("POST", "/api/x", {**headers, "Cookie": COOKIE}, config=config)
    assert_cookie_ignored(response, app)
    response, app = await call("POST", "/api/x", {**headers, "Cookie": f"__Host-{COOKIE}"}, config=config)
    assert_cookie_used(response, app)


# --- websockets -----------------------------------------------------------------------------


def test_websocket_from_a_foreign_origin_does_not_use_the_cookie() -> None:
    # Cross-site WebSocket hijacking: the browser attaches the cookie to the handshake.
    app = RecordingApp()
    url = "wss://gw.example.com/ws"
    with TestClient(protect(app)) as http:
        headers = {"Origin": "https://evil.example", "Cookie": COOKIE}
        with pytest.raises(WebSocketDisconnect) as closed, http.websocket_connect(url, headers=headers) as ws:
            ws.receive_text()
        assert closed.value.code == 1008
        assert app.calls == 0
        same_origin = {"Origin": ORIGIN, "Referer": f"{ORIGIN}/admin", "Cookie": COOKIE}
        with http.websocket_connect(url, headers=same_origin) as ws:
            assert ws.receive_text() == "alice"
        assert app.calls == 1


# --- the policy object ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/admin", True),
        ("/admin/", True),
        ("/admin/gateways/gw-1", True),
        ("/admin/a%20b", True),
        ("/oauth/callback", True),
        ("/administrator", False),
        ("/admin-x", False),
        ("/oauth/callbackevil", False),
        ("/admin/../api", False),
        ("/admin/.", False),
        ("/admin%2F..", False),
        ("/admin/%5c", False),
        ("/admin/\x00", False),
        ("", False),
    ],
)
def test_allowlist_matches_whole_path_segments(path: str, allowed: bool) -> None:
    assert BrowserPolicy().is_allowlisted_path(path) is allowed


def test_allowlisted_paths_are_normalised_when_the_policy_is_built() -> None:
    policy = BrowserPolicy(origin_paths=["/console/", "/oauth/callback"])
    assert policy.is_allowlisted_path("/console/page")
    assert not policy.is_allowlisted_path("/admin")
