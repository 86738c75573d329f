"""The example gateway (examples/fastapi_app), in process: every route, its auth, its headers."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from apps import INITIALIZE, MCP_HEADERS
from fastapi import FastAPI
from starlette.testclient import TestClient
from tokens import AUDIENCE, settings, token

from asgi_mcp_auth import AuthSettings, ConfigurationError
from examples.fastapi_app import __main__ as demo
from examples.fastapi_app.gateways import GatewayRegistry
from examples.fastapi_app.main import create_app
from examples.fastapi_app.users import DevUser, parse_dev_users

ORIGIN = "https://gw.example.com"
USERS = parse_dev_users("admin:adminpass:admin,viewer:viewerpass:viewer,dev:devpass:developer+viewer")
LOGIN_FORM = {"Origin": ORIGIN, "Referer": f"{ORIGIN}/admin/login", "Sec-Fetch-Site": "same-origin"}
# What the "Fetch Tools" buttons send (fetch with credentials: "same-origin", Accept: JSON).
BUTTON_FETCH = {
    "Origin": ORIGIN,
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Dest": "empty",
    "Accept": "application/json",
}
NAVIGATION = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


def build(config: AuthSettings | None = None, **options: Any) -> FastAPI:
    return create_app(config if config is not None else settings(), dev_users=USERS, **options)


@pytest.fixture
def app() -> FastAPI:
    return build()


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as client:
        yield client


def registry(app: FastAPI) -> GatewayRegistry:
    gateways: GatewayRegistry = app.state.gateways
    return gateways


def log_in(http: TestClient, username: str, password: str) -> str:
    """The token cookie set by the login form. The client's jar is left empty: tests send it."""
    response = http.post("/admin/login", data={"username": username, "password": password}, headers=LOGIN_FORM)
    assert response.status_code == 303, response.text
    value = response.cookies["jwt_token"]
    http.cookies.clear()
    return value


def bearer(sub: str, roles: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, roles=roles)}"}


# --- public routes --------------------------------------------------------------------------


def test_health_is_public(http: TestClient) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_login_form_and_its_assets_are_public(http: TestClient) -> None:
    page = http.get("/admin/login")
    assert page.status_code == 200
    assert '<form method="post" action="/admin/login"' in page.text
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        response = http.get(asset)
        assert response.status_code == 200
        assert kind in response.headers["content-type"]


def test_protected_resource_metadata_is_public_and_advertised_in_challenges(http: TestClient) -> None:
    metadata = http.get("/.well-known/oauth-protected-resource")
    assert metadata.status_code == 200
    assert metadata.json()["resource"] == AUDIENCE
    assert metadata.json()["authorization_servers"]
    per_resource = http.get("/.well-known/oauth-protected-resource/mcp")
    assert per_resource.json() == metadata.json()
    challenge = http.get("/whoami").headers["www-authenticate"]
    assert challenge == f'Bearer resource_metadata="{ORIGIN}/.well-known/oauth-protected-resource/mcp"'


# --- login and logout -----------------------------------------------------------------------


def test_login_sets_an_httponly_samesite_lax_secure_cookie_and_redirects_to_admin(http: TestClient) -> None:
    response = http.post("/admin/login", data={"username": "admin", "password": "adminpass"}, headers=LOGIN_FORM)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith("jwt_token=")
    attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}
    assert {"httponly", "secure", "path", "max-age", "samesite"} <= attributes
    assert "samesite=lax" in set_cookie.lower()
    assert "path=/;" in set_cookie.lower() + ";"
    # The cookie is a token of this gateway: it works as a bearer token too.
    whoami = http.get("/whoami", headers={"Authorization": f"Bearer {response.cookies['jwt_token']}"})
    assert whoami.json()["sub"] == "admin"
    assert whoami.json()["roles"] == ["admin"]


def test_login_over_plain_http_sets_a_cookie_without_secure(app: FastAPI) -> None:
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as http:
        headers = {"Origin": "http://127.0.0.1:8000", "Referer": "http://127.0.0.1:8000/admin/login"}
        response = http.post("/admin/login", data={"username": "viewer", "password": "viewerpass"}, headers=headers)
    assert response.status_code == 303
    assert "secure" not in response.headers["set-cookie"].lower()
    assert "httponly" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "config",
    [
        settings(public_origin="https://gw.example.com"),  # TLS ends at the proxy
        settings(cookie_name="__Host-jwt_token"),  # browsers drop __Host- cookies that are not Secure
    ],
)
def test_cookie_is_secure_when_browsers_see_https(config: AuthSettings) -> None:
    with TestClient(build(config), base_url="http://10.0.0.5:8000", follow_redirects=False) as http:
        origin = config.public_origin or "http://10.0.0.5:8000"
        headers = {"Origin": origin, "Referer": f"{origin}/admin/login"}
        response = http.post("/admin/login", data={"username": "admin", "password": "adminpass"}, headers=headers)
    assert response.status_code == 303
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{config.cookie_name}=")
    assert "; secure" in set_cookie.lower()
    assert "domain=" not in set_cookie.lower()


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong"), ("admin", ""), ("admin", "adminpass "), ("nobody", "adminpass"), ("", "")],
)
def test_wrong_credentials_are_refused_without_a_cookie(http: TestClient, username: str, password: str) -> None:
    response = http.post("/admin/login", data={"username": username, "password": password}, headers=LOGIN_FORM)
    assert response.status_code == 401
    assert "Invalid username or password." in response.text
    assert "set-cookie" not in response.headers


def test_login_form_posted_from_another_site_is_refused(http: TestClient) -> None:
    headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"}
    response = http.post("/admin/login", data={"username": "admin", "password": "adminpass"}, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_logout_clears_the_cookie(http: TestClient) -> None:
    response = http.post("/admin/logout", headers={"Origin": ORIGIN, "Referer": f"{ORIGIN}/admin"})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    assert re.match(r'jwt_token=(""|);', response.headers["set-cookie"])
    assert "max-age=0" in response.headers["set-cookie"].lower()


def test_tokens_accepted_after_logout_regression_logout_revokes_the_token(http: TestClient) -> None:
    token = log_in(http, "admin", "adminpass")
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get("/whoami", headers=bearer).status_code == 200  # now cached as verified

    logout = http.post(
        "/admin/logout", headers={**LOGIN_FORM, "Referer": f"{ORIGIN}/admin", "Cookie": f"jwt_token={token}"}
    )

    assert logout.status_code == 303
    refused = http.get("/whoami", headers=bearer)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Token revoked"}
    other = log_in(http, "admin", "adminpass")
    assert http.get("/whoami", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_logout_without_a_session_still_clears_the_cookie(http: TestClient) -> None:
    response = http.post(
        "/admin/logout", headers={**LOGIN_FORM, "Referer": f"{ORIGIN}/admin", "Cookie": "jwt_token=expired.or.bad"}
    )

    assert response.status_code == 303
    assert "max-age=0" in response.headers["set-cookie"].lower()


def test_dev_login_is_off_when_the_gateway_cannot_sign_tokens() -> None:
    from tokens import public_pem, rsa_key

    config = settings(jwt_secret=None, jwt_public_key=public_pem(rsa_key()), jwt_algorithms="RS256")
    with TestClient(build(config), base_url=ORIGIN) as http:
        assert "Dev login is off" in http.get("/admin/login").text
        response = http.post("/admin/login", data={"username": "admin", "password": "adminpass"}, headers=LOGIN_FORM)
    assert response.status_code == 503
    assert "set-cookie" not in response.headers


# --- pages ----------------------------------------------------------------------------------


def test_admin_page_lists_gateways_with_a_fetch_tools_button_each(http: TestClient, app: FastAPI) -> None:
    cookie = log_in(http, "admin", "adminpass")
    response = http.get(
        "/admin", headers={**NAVIGATION, "Referer": f"{ORIGIN}/admin/login", "Cookie": f"jwt_token={cookie}"}
    )
    assert response.status_code == 200
    assert "Signed in as <strong>admin</strong>" in response.text
    for gateway in registry(app):
        assert f'data-fetch-tools="/oauth/fetch-tools/{gateway.id}"' in response.text
    assert response.text.count(">Fetch Tools</button>") == 2


def test_navigation_to_admin_without_a_session_redirects_to_the_login_form(http: TestClient) -> None:
    response = http.get("/admin", headers={**NAVIGATION, "Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    api = http.get("/admin", headers={"Accept": "application/json"})
    assert api.status_code == 401


def test_oauth_callback_after_the_identity_provider_redirect_shows_success(http: TestClient) -> None:
    cookie = log_in(http, "admin", "adminpass")
    headers = {**NAVIGATION, "Sec-Fetch-Site": "cross-site", "Referer": "https://idp.example.net/"}
    response = http.get(
        "/oauth/callback?code=SECRET-CODE&state=docs", headers={**headers, "Cookie": f"jwt_token={cookie}"}
    )
    assert response.status_code == 200
    assert "Authorization successful" in response.text
    assert ">Fetch Tools from MCP Server</button>" in response.text
    assert 'data-fetch-tools="/oauth/fetch-tools/docs"' in response.text
    assert "SECRET-CODE" not in response.text


def test_oauth_callback_reports_an_identity_provider_error(http: TestClient) -> None:
    response = http.get("/oauth/callback?error=access_denied&state=docs", headers=bearer("alice", ["admin"]))
    assert response.status_code == 400
    assert "Authorization failed" in response.text
    assert "access_denied" in response.text


def test_pages_send_referrer_policy_and_a_csp_without_inline_script(http: TestClient) -> None:
    cookie = {"Cookie": f"jwt_token={log_in(http, 'admin', 'adminpass')}"}
    pages = [
        http.get("/admin/login"),
        http.get("/admin", headers={**NAVIGATION, **cookie}),
        http.get("/oauth/callback?code=x&state=y", headers={**NAVIGATION, **cookie}),
    ]
    for page in pages:
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "same-origin"
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/app.js" defer>']
        assert "style=" not in page.text


# --- API ------------------------------------------------------------------------------------


def test_whoami_returns_the_principal_of_the_request(http: TestClient) -> None:
    response = http.get("/whoami", headers=bearer("alice", ["developer"]))
    body = response.json()
    assert set(body) == {"sub", "email", "roles", "teams", "permissions", "token_source"}
    assert body["sub"] == "alice"
    assert body["roles"] == ["developer"]
    assert "tools.execute" in body["permissions"]
    assert body["token_source"] == "header"


def test_whoami_with_the_cookie_from_an_admin_page_says_cookie(http: TestClient) -> None:
    cookie = log_in(http, "dev", "devpass")
    headers = {**BUTTON_FETCH, "Referer": f"{ORIGIN}/admin", "Cookie": f"jwt_token={cookie}"}
    body = http.get("/whoami", headers=headers).json()
    assert body["sub"] == "dev"
    assert body["email"] == "dev@example.com"
    assert body["roles"] == ["developer", "viewer"]
    assert body["teams"] == ["demo"]
    assert body["token_source"] == "cookie"


def test_metrics_are_served_to_an_admin_and_refused_to_anyone_else(http: TestClient) -> None:
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers=bearer("vera", ["viewer"])).status_code == 403
    http.get("/whoami", headers=bearer("alice", ["developer"]))
    response = http.get("/metrics", headers=bearer("root", ["admin"]))
    assert response.status_code == 200
    assert 'mcp_auth_decisions_total{outcome="refused",reason="credentials_missing"} 1.0' in response.text
    assert 'mcp_auth_decisions_total{outcome="authenticated",reason="none"} 3.0' in response.text
    assert "mcp_auth_token_cache_misses_total 3.0" in response.text
    assert "alice" not in response.text
    assert "vera" not in response.text


def test_fetch_tools_from_the_oauth_callback_page_with_the_cookie_succeeds(http: TestClient, app: FastAPI) -> None:
    cookie = log_in(http, "admin", "adminpass")
    headers = {**BUTTON_FETCH, "Referer": f"{ORIGIN}/oauth/callback?code=x&state=y", "Cookie": f"jwt_token={cookie}"}
    response = http.post("/oauth/fetch-tools/local", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["gateway_id"] == "local"
    assert body["fetched_by"] == "admin"
    assert [tool["name"] for tool in body["tools"]] == ["whoami", "echo", "echo_later"]  # the real MCP server's tools
    assert [(fetch.subject, fetch.tool_count) for fetch in registry(app).fetches()] == [("admin", 3)]


def test_fetch_tools_needs_gateways_update(http: TestClient, app: FastAPI) -> None:
    response = http.post("/oauth/fetch-tools/local", headers=bearer("vera", ["viewer"]))
    assert response.status_code == 403
    assert response.json() == {"detail": "Permission denied: gateways.update required"}
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="gateways.update"' in response.headers["www-authenticate"]
    assert registry(app).fetches() == []


def test_fetch_tools_of_an_unknown_gateway_is_404(http: TestClient) -> None:
    response = http.post("/oauth/fetch-tools/nope", headers=bearer("alice", ["admin"]))
    assert response.status_code == 404
    assert response.json() == {"detail": "Unknown gateway: nope"}


def test_fetch_tools_without_a_credential_is_401(http: TestClient, app: FastAPI) -> None:
    response = http.post("/oauth/fetch-tools/local", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert registry(app).fetches() == []


def test_fetch_tools_with_the_cookie_from_another_site_is_refused(http: TestClient, app: FastAPI) -> None:
    cookie = log_in(http, "admin", "adminpass")
    headers = {**BUTTON_FETCH, "Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}
    response = http.post("/oauth/fetch-tools/local", headers={**headers, "Cookie": f"jwt_token={cookie}"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Cross-site request refused"}
    assert registry(app).fetches() == []


# --- MCP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stateless", "has_session"), [(False, True), (True, False)])
def test_mcp_endpoint_answers_a_header_token(stateless: bool, has_session: bool) -> None:
    with TestClient(build(stateless=stateless), base_url=ORIGIN) as http:
        headers = {**MCP_HEADERS, **bearer("alice", ["developer"])}
        response = http.post("/mcp/", content=json.dumps(INITIALIZE), headers=headers)
        assert response.status_code == 200
        assert ("mcp-session-id" in response.headers) is has_session
        assert '"serverInfo"' in response.text


def test_mcp_endpoint_ignores_a_cookie_from_a_non_browser_client(http: TestClient) -> None:
    cookie = log_in(http, "admin", "adminpass")
    response = http.post(
        "/mcp/", content=json.dumps(INITIALIZE), headers={**MCP_HEADERS, "Cookie": f"jwt_token={cookie}"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == -32000
    assert response.json()["id"] == 1


# --- configuration --------------------------------------------------------------------------


def test_dev_users_are_parsed_with_their_roles() -> None:
    users = parse_dev_users(" admin:pw:admin , ops:pw2:developer+viewer ")
    assert users == {"admin": DevUser("admin", "pw", ("admin",)), "ops": DevUser("ops", "pw2", ("developer", "viewer"))}
    assert "pw" not in repr(users["admin"])


@pytest.mark.parametrize("value", ["admin:s3cret", "admin:s3cret:admin:extra", ":s3cret:admin", "admin::admin"])
def test_a_malformed_dev_user_is_refused_without_echoing_the_password(value: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_dev_users(value)
    assert "s3cret" not in str(error.value)


# --- the demo (python -m examples.fastapi_app) ----------------------------------------------


def test_demo_generates_a_key_and_prints_a_login_address_and_a_working_curl_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    demo_sets = ("MCP_AUTH_JWT_AUDIENCE", "MCP_AUTH_SCOPE_PERMISSIONS", "EXAMPLE_DEV_USERS", demo.PORT_ENV)
    for name in (*demo.KEY_VARIABLES, *demo_sets):
        monkeypatch.setenv(name, "")  # recorded, so whatever the demo sets is undone
        monkeypatch.delenv(name)
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))

    demo.main()

    assert (served["host"], served["port"]) == ("127.0.0.1", 8000)
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:8000/admin/login" in printed
    curl = shlex.split(next(line for line in printed.splitlines() if line.strip().startswith("curl ")))
    assert curl[-1] == "http://127.0.0.1:8000/whoami"
    with TestClient(served["app"], base_url="http://127.0.0.1:8000") as http:
        response = http.get("/whoami", headers=dict([curl[2].split(": ", 1)]))
    assert response.status_code == 200
    assert response.json()["sub"] == "admin"
    assert served["app"].state.settings.jwt_audience == "http://127.0.0.1:8000/mcp"


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_demo_prints_how_to_connect_an_mcp_client_and_configures_its_authorization_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], token_format: str
) -> None:
    names = ("SCOPE_PERMISSIONS", "INTROSPECTION_URL", "INTROSPECTION_CLIENT_ID", "INTROSPECTION_CLIENT_SECRET")
    for name in (*demo.KEY_VARIABLES, *(f"MCP_AUTH_{item}" for item in names), "MCP_AUTH_JWT_AUDIENCE", demo.PORT_ENV):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("EXAMPLE_TOKEN_FORMAT", token_format)
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))

    demo.main()

    printed = capsys.readouterr().out
    assert "MCP:      http://127.0.0.1:8000/mcp " in printed
    assert "http://127.0.0.1:8000/oauth/authorize to sign in" in printed
    settings = served["app"].state.settings
    assert set(settings.scope_grants()) == {"mcp:read", "mcp:tools", "gateways:admin"}
    expected_introspection = "http://127.0.0.1:8000/oauth/introspect" if token_format == "opaque" else None
    assert settings.introspection_url == expected_introspection
    with TestClient(served["app"], base_url="http://127.0.0.1:8000") as http:
        metadata = http.get("/.well-known/oauth-authorization-server").json()
        challenge = http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS).headers["www-authenticate"]
    assert metadata["issuer"] == "http://127.0.0.1:8000"
    assert ("introspection_endpoint" in metadata) is (token_format == "opaque")
    assert 'scope="mcp:read"' in challenge
