"""RFC 9728 protected-resource metadata: the document, its URLs, its routes behind the middleware."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from tokens import AUDIENCE, ISSUER, settings

from asgi_mcp_auth import ConfigurationError, MCPAuthMiddleware
from asgi_mcp_auth.integrations.metadata import (
    WELL_KNOWN_PATH,
    ProtectedResourceMetadata,
    protected_resource_metadata_route,
    protected_resource_metadata_routes,
    well_known_path,
    well_known_url,
)

pytestmark = pytest.mark.anyio

SUFFIXED_PATH = "/.well-known/oauth-protected-resource/mcp"
PUBLIC_PATHS = ["/health", WELL_KNOWN_PATH, SUFFIXED_PATH]
METADATA_URL = "https://gw.example.com" + SUFFIXED_PATH
EXPECTED_DOCUMENT = {
    "resource": AUDIENCE,
    "authorization_servers": [ISSUER],
    "scopes_supported": ["tools.read", "tools.execute"],
    "bearer_methods_supported": ["header"],
}


def protected_app(routes: list[BaseRoute], **overrides: Any) -> MCPAuthMiddleware:
    values: dict[str, Any] = {"public_paths": PUBLIC_PATHS, "resource_metadata_url": METADATA_URL}
    values.update(overrides)
    return MCPAuthMiddleware(Starlette(routes=routes), settings=settings(**values))


async def request(app: MCPAuthMiddleware, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.example.com") as client:
        return await client.request(method, path, **kwargs)


def metadata_routes() -> list[BaseRoute]:
    return list(
        protected_resource_metadata_routes(
            settings(public_paths=PUBLIC_PATHS),
            authorization_servers=[ISSUER],
            scopes_supported=["tools.read", "tools.execute"],
        )
    )


@pytest.mark.parametrize(
    ("resource", "path", "url"),
    [
        ("https://gw.example.com/mcp", SUFFIXED_PATH, "https://gw.example.com" + SUFFIXED_PATH),
        ("https://gw.example.com/mcp/", SUFFIXED_PATH, "https://gw.example.com" + SUFFIXED_PATH),
        ("https://gw.example.com", WELL_KNOWN_PATH, "https://gw.example.com" + WELL_KNOWN_PATH),
        (
            "https://gw.example.com:8443/a/b",
            WELL_KNOWN_PATH + "/a/b",
            "https://gw.example.com:8443" + WELL_KNOWN_PATH + "/a/b",
        ),
        ("http://127.0.0.1:8000/mcp", SUFFIXED_PATH, "http://127.0.0.1:8000" + SUFFIXED_PATH),
    ],
)
def test_well_known_url_inserts_the_prefix_between_host_and_resource_path_rfc9728_3_1(
    resource: str, path: str, url: str
) -> None:
    assert well_known_path(resource) == path
    assert well_known_url(resource) == url


async def test_both_metadata_paths_serve_the_document_without_credentials() -> None:
    app = protected_app(metadata_routes())
    for path in (SUFFIXED_PATH, WELL_KNOWN_PATH):
        response = await request(app, "GET", path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == EXPECTED_DOCUMENT
        assert response.headers["access-control-allow-origin"] == "*"


async def test_metadata_head_has_no_body_and_options_answers_a_cors_preflight() -> None:
    app = protected_app(metadata_routes())
    head = await request(app, "HEAD", WELL_KNOWN_PATH)
    assert (head.status_code, head.content) == (200, b"")
    preflight = await request(
        app,
        "OPTIONS",
        WELL_KNOWN_PATH,
        headers={"Origin": "https://inspector.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert "GET" in preflight.headers["access-control-allow-methods"]


async def test_metadata_refuses_unsafe_methods_with_405() -> None:
    response = await request(protected_app(metadata_routes()), "POST", WELL_KNOWN_PATH, json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


async def test_resource_metadata_url_appears_in_401_challenges_of_the_same_app() -> None:
    app = protected_app(metadata_routes())
    missing = await request(app, "GET", "/api")
    invalid = await request(app, "GET", "/api", headers={"Authorization": "Bearer not.a.jwt"})
    assert missing.status_code == invalid.status_code == 401
    assert missing.headers["www-authenticate"] == f'Bearer resource_metadata="{METADATA_URL}"'
    assert invalid.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert invalid.headers["www-authenticate"].endswith(f'resource_metadata="{METADATA_URL}"')


def test_single_route_serves_the_root_path_under_default_public_paths() -> None:
    route = protected_resource_metadata_route(settings(), authorization_servers=[ISSUER])
    assert route.path == WELL_KNOWN_PATH


def test_routes_for_a_resource_without_path_are_one_root_route() -> None:
    routes = protected_resource_metadata_routes(
        settings(), resource="https://gw.example.com", authorization_servers=[ISSUER]
    )
    assert [route.path for route in routes] == [WELL_KNOWN_PATH]


def test_metadata_paths_that_are_not_public_are_a_startup_error() -> None:
    # Behind the middleware a non-public metadata path would answer 401 to the request that
    # asks how to authenticate: refuse the configuration instead.
    with pytest.raises(ConfigurationError, match=SUFFIXED_PATH.replace(".", r"\.")):
        protected_resource_metadata_routes(settings(), authorization_servers=[ISSUER])
    with pytest.raises(ConfigurationError, match="MCP_AUTH_PUBLIC_PATHS"):
        protected_resource_metadata_route(settings(public_paths=["/health"]), authorization_servers=[ISSUER])


def test_optional_members_are_left_out_of_the_document() -> None:
    document = ProtectedResourceMetadata(resource=AUDIENCE, authorization_servers=(ISSUER,)).to_dict()
    assert document == {"resource": AUDIENCE, "authorization_servers": [ISSUER], "bearer_methods_supported": ["header"]}


def test_resource_is_required_when_no_audience_is_configured() -> None:
    unaudienced = settings(jwt_audience=None, jwt_verify_audience=False)
    with pytest.raises(ConfigurationError, match="resource is required"):
        protected_resource_metadata_route(unaudienced, authorization_servers=[ISSUER])
    route = protected_resource_metadata_route(unaudienced, resource=AUDIENCE, authorization_servers=[ISSUER])
    assert route.path == WELL_KNOWN_PATH


@pytest.mark.parametrize(
    ("resource", "servers"),
    [
        pytest.param("http://gw.example.com/mcp", [ISSUER], id="plain-http-resource"),
        pytest.param("https://gw.example.com/mcp#frag", [ISSUER], id="fragment"),
        pytest.param("/mcp", [ISSUER], id="relative-resource"),
        pytest.param(AUDIENCE, [], id="no-authorization-server"),
        pytest.param(AUDIENCE, ISSUER, id="authorization-servers-as-one-string"),
        pytest.param(AUDIENCE, ["ftp://idp.example.com"], id="non-http-authorization-server"),
    ],
)
def test_invalid_metadata_is_a_startup_error(resource: str, servers: Any) -> None:
    with pytest.raises(ConfigurationError):
        protected_resource_metadata_route(settings(), resource=resource, authorization_servers=servers)
