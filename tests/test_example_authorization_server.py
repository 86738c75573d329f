"""The example's development authorization server, in process: what each endpoint refuses.

PKCE is S256 and required, the `resource` must be the gateway's MCP URL, a code works once (and
its replay revokes what it bought), unknown clients and unregistered redirect URIs get no
redirect, and only the gateway may introspect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from starlette.testclient import TestClient
from tokens import AUDIENCE, SECRET, settings

from examples.fastapi_app.authorization_server import SCOPE_PERMISSIONS, TokenFormat
from examples.fastapi_app.main import create_app
from examples.fastapi_app.users import parse_dev_users

ORIGIN = "https://gw.example.com"
REDIRECT_URI = "http://localhost:33418/callback"
USERS = parse_dev_users("admin:adminpass:admin,developer:devpass:developer,viewer:viewerpass:viewer")
GATEWAY_SECRET = secrets.token_urlsafe(32)
VERIFIER = secrets.token_urlsafe(48)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def client_for(token_format: TokenFormat) -> TestClient:
    extra: dict[str, Any] = {"scope_permissions": json.dumps(SCOPE_PERMISSIONS)}
    if token_format == "opaque":
        extra |= {
            "introspection_url": f"{ORIGIN}/oauth/introspect",
            "introspection_client_id": "gateway",
            "introspection_client_secret": GATEWAY_SECRET,
        }
    app = create_app(settings(**extra), dev_users=USERS, token_format=token_format)
    return TestClient(app, base_url=ORIGIN, follow_redirects=False)


@pytest.fixture
def http() -> Iterator[TestClient]:
    with client_for("jwt") as client:
        yield client


def register(http: TestClient, **metadata: Any) -> dict[str, Any]:
    body = {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none", **metadata}
    response = http.post("/oauth/register", json=body)
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    return registered


def authorize_params(client: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client,
        "redirect_uri": REDIRECT_URI,
        "state": "st4te",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "resource": AUDIENCE,
        "scope": "mcp:read mcp:tools",
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


DEVELOPER = ("developer", "devpass")


def sign_in(http: TestClient, params: dict[str, str], *login: str) -> Any:
    username, password = login or DEVELOPER
    return http.post(f"/oauth/authorize?{urlencode(params)}", data={"username": username, "password": password})


def introspect(http: TestClient, token: str, auth: tuple[str, str] | None = ("gateway", GATEWAY_SECRET)) -> Any:
    if auth is None:
        return http.post("/oauth/introspect", data={"token": token})
    return http.post("/oauth/introspect", data={"token": token}, auth=auth)


def code_from(response: Any) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["st4te"]
    return str(query["code"][0])


def exchange(http: TestClient, client: str, code: str, **overrides: str | None) -> Any:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
        "resource": AUDIENCE,
    }
    form.update(overrides)
    return http.post("/oauth/token", data={key: value for key, value in form.items() if value is not None})


def redirect_error(response: Any) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert "code" not in query
    return str(query["error"][0])


def test_a_complete_exchange_gives_a_jwt_for_the_gateway_with_the_granted_scopes(http: TestClient) -> None:
    client_id = register(http)["client_id"]
    response = exchange(http, client_id, code_from(sign_in(http, authorize_params(client_id))))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["scope"] == "mcp:read mcp:tools"
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert (claims["iss"], claims["sub"], claims["client_id"]) == (ORIGIN, "developer", client_id)
    whoami = http.get("/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert whoami.status_code == 200
    assert "tools.execute" in whoami.json()["permissions"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # no PKCE
        ({"code_challenge_method": None}, "invalid_request"),  # defaults to plain
        ({"code_challenge_method": "plain", "code_challenge": VERIFIER}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"resource": None}, "invalid_target"),
        ({"resource": "https://other.example.com/mcp"}, "invalid_target"),
        ({"resource": AUDIENCE + "/"}, "invalid_target"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "mcp:read admin:everything"}, "invalid_scope"),
    ],
)
def test_an_authorization_request_without_s256_pkce_or_for_another_resource_is_refused(
    http: TestClient, overrides: dict[str, str | None], error: str
) -> None:
    client_id = register(http)["client_id"]
    params = authorize_params(client_id, **overrides)
    assert redirect_error(http.get(f"/oauth/authorize?{urlencode(params)}")) == error
    assert redirect_error(sign_in(http, params)) == error


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": "no-such-client"}, {"redirect_uri": "https://attacker.example/callback"}, {"redirect_uri": None}],
)
def test_an_unknown_client_or_an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
    http: TestClient, overrides: dict[str, str | None]
) -> None:
    client_id = register(http, redirect_uris=[REDIRECT_URI, "http://localhost:1/other"])["client_id"]
    params = authorize_params(client_id, **overrides)
    expected = "invalid_client" if "client_id" in overrides else "invalid_request"
    for response in (http.get(f"/oauth/authorize?{urlencode(params)}"), sign_in(http, params)):
        assert response.status_code in (400, 401)
        assert "location" not in response.headers
        assert response.json()["error"] == expected


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": secrets.token_urlsafe(48)}, "invalid_grant"),  # wrong verifier
        ({"code_verifier": None}, "invalid_request"),
        ({"resource": "https://other.example.com/mcp"}, "invalid_target"),
        ({"redirect_uri": "http://localhost:33418/elsewhere"}, "invalid_grant"),
        ({"client_id": "no-such-client"}, "invalid_client"),
    ],
)
def test_a_token_request_with_a_wrong_verifier_resource_redirect_or_client_is_refused(
    http: TestClient, overrides: dict[str, str | None], error: str
) -> None:
    client_id = register(http)["client_id"]
    code = code_from(sign_in(http, authorize_params(client_id)))
    response = exchange(http, client_id, code, **overrides)
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_a_code_of_another_client_is_refused(http: TestClient) -> None:
    alice, mallory = register(http)["client_id"], register(http)["client_id"]
    code = code_from(sign_in(http, authorize_params(alice)))
    assert exchange(http, mallory, code).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_a_reused_code_is_refused_and_revokes_what_it_bought(token_format: TokenFormat) -> None:
    with client_for(token_format) as http:
        client_id = register(http, grant_types=["authorization_code", "refresh_token"])["client_id"]
        code = code_from(sign_in(http, authorize_params(client_id)))
        first = exchange(http, client_id, code).json()
        replay = exchange(http, client_id, code)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": client_id}
        assert http.post("/oauth/token", data=refresh).json()["error"] == "invalid_grant"
        if token_format == "opaque":
            assert introspect(http, first["access_token"]).json() == {"active": False}


def test_a_refresh_token_works_once_and_keeps_the_resource(http: TestClient) -> None:
    client_id = register(http, grant_types=["authorization_code", "refresh_token"])["client_id"]
    first = exchange(http, client_id, code_from(sign_in(http, authorize_params(client_id)))).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": client_id}
    renewed = http.post("/oauth/token", data={**refresh, "resource": AUDIENCE})
    assert renewed.status_code == 200, renewed.text
    claims = jwt.decode(renewed.json()["access_token"], SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["scope"] == "mcp:read mcp:tools"
    assert http.post("/oauth/token", data=refresh).json()["error"] == "invalid_grant"  # rotated


@pytest.mark.parametrize(("username", "granted"), [("viewer", "mcp:read"), ("developer", "mcp:read mcp:tools")])
def test_the_users_roles_decide_which_requested_scopes_are_granted(
    http: TestClient, username: str, granted: str
) -> None:
    client_id = register(http)["client_id"]
    password = {"viewer": "viewerpass", "developer": "devpass"}[username]
    code = code_from(sign_in(http, authorize_params(client_id), username, password))
    assert exchange(http, client_id, code).json()["scope"] == granted


def test_a_user_granted_none_of_the_requested_scopes_is_denied(http: TestClient) -> None:
    client_id = register(http)["client_id"]
    params = authorize_params(client_id, scope="gateways:admin")
    assert redirect_error(sign_in(http, params, "viewer", "viewerpass")) == "access_denied"


def test_wrong_credentials_show_the_form_again_without_a_code(http: TestClient) -> None:
    client_id = register(http)["client_id"]
    response = sign_in(http, authorize_params(client_id), "developer", "wrong")
    assert response.status_code == 401
    assert "location" not in response.headers
    assert "Invalid username or password." in response.text


def test_the_login_form_posted_from_another_site_is_refused(http: TestClient) -> None:
    client_id = register(http)["client_id"]
    params = authorize_params(client_id)
    cross_site = {"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"}
    login = {"username": "developer", "password": "devpass"}
    response = http.post(f"/oauth/authorize?{urlencode(params)}", data=login, headers=cross_site)
    assert response.status_code == 403
    assert "location" not in response.headers


def test_the_login_page_lets_the_form_redirect_to_the_client_and_nowhere_else(http: TestClient) -> None:
    client_id = register(http)["client_id"]
    page = http.get(f"/oauth/authorize?{urlencode(authorize_params(client_id))}")
    assert page.status_code == 200
    assert "form-action 'self' http://localhost:33418;" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    "body",
    [
        {"redirect_uris": []},
        {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "private_key_jwt"},
        {"redirect_uris": [REDIRECT_URI], "grant_types": ["password"]},
        {"redirect_uris": [REDIRECT_URI], "scope": "everything"},
    ],
)
def test_registration_of_unusable_client_metadata_is_refused(http: TestClient, body: dict[str, Any]) -> None:
    response = http.post("/oauth/register", json=body)
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_client_metadata")


@pytest.mark.parametrize("body", [b"not json", b"[]", b"x" * 20_000])
def test_registration_of_a_body_that_is_not_a_small_json_object_is_refused(http: TestClient, body: bytes) -> None:
    response = http.post("/oauth/register", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_a_public_client_gets_no_secret_and_a_confidential_one_does(http: TestClient) -> None:
    assert "client_secret" not in register(http)
    confidential = register(http, token_endpoint_auth_method="client_secret_basic")
    assert len(confidential["client_secret"]) >= 32


def test_introspection_answers_the_gateway_only() -> None:
    with client_for("opaque") as http:
        client_id = register(http, token_endpoint_auth_method="client_secret_post")
        code = code_from(sign_in(http, authorize_params(client_id["client_id"])))
        token = exchange(http, client_id["client_id"], code, client_secret=client_id["client_secret"]).json()
        as_gateway = introspect(http, token["access_token"])
        as_client = introspect(http, token["access_token"], (client_id["client_id"], client_id["client_secret"]))
        anonymous = introspect(http, token["access_token"], None)
        wrong_secret = introspect(http, token["access_token"], ("gateway", "nope"))
    assert as_gateway.json()["active"] is True
    assert as_gateway.json()["aud"] == AUDIENCE
    assert as_gateway.json()["scope"] == "mcp:read mcp:tools"
    assert as_client.json() == {"active": False}
    assert anonymous.status_code == 401
    assert wrong_secret.status_code == 401


def test_jwt_mode_has_no_introspection_endpoint(http: TestClient) -> None:
    assert "introspection_endpoint" not in http.get("/.well-known/oauth-authorization-server").json()
    assert http.post("/oauth/introspect", data={"token": "x"}).status_code in (404, 405)
