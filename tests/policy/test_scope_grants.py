"""Scopes that grant (`SCOPE_PERMISSIONS`), scopes that narrow, malformed scope claims, and the
step-up challenges that name OAuth scopes the authorization server knows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from apps import MCP_HEADERS, RecordingApp, client
from tokens import AUDIENCE, SECRET, token

from asgi_mcp_auth import AuthSettings, ConfigurationError, MCPAuthMiddleware
from asgi_mcp_auth.integrations.metadata import protected_resource_metadata_route
from asgi_mcp_auth.policy.rbac import RBACPolicy

pytestmark = pytest.mark.anyio

SCOPES = {
    "mcp:read": ["tools.read", "resources.read", "prompts.read"],
    "mcp:tools": ["tools.execute"],
    "files:read": ["resources.read"],
}


def settings(**extra: Any) -> AuthSettings:
    return AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, scope_permissions=json.dumps(SCOPES), **extra)


def call_tool(name: str = "echo") -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name}}).encode()


@pytest.mark.parametrize(
    ("roles", "scope", "expected"),
    [
        ([], "mcp:read", {"tools.read", "resources.read", "prompts.read"}),
        ([], "mcp:read mcp:tools", {"tools.read", "resources.read", "prompts.read", "tools.execute"}),
        ([], "openid profile", set()),
        (["viewer"], "mcp:tools", {"tools.read", "resources.read", "prompts.read", "gateways.read", "tools.execute"}),
        (["developer"], "tools.read", {"tools.read"}),  # a permission-name scope still narrows
        (["developer"], "tools.read files:read", {"tools.read", "resources.read"}),  # and a mapped one grants
    ],
)
def test_mapped_scopes_grant_and_permission_name_scopes_narrow(
    roles: list[str], scope: str, expected: set[str]
) -> None:
    policy = RBACPolicy(scope_permissions=SCOPES)
    permissions, _ = policy.effective(roles, scope.split())
    assert permissions == expected


async def test_an_oauth_token_without_roles_gets_the_permissions_its_scopes_grant() -> None:
    app = RecordingApp()
    bearer = token(scope="mcp:read mcp:tools")
    async with client(MCPAuthMiddleware(app, settings=settings())) as http:
        response = await http.post(
            "/mcp/", content=call_tool(), headers={**MCP_HEADERS, "Authorization": f"Bearer {bearer}"}
        )
    assert response.status_code == 200
    assert app.calls == 1


@pytest.mark.parametrize("scope", ["tools.read,tools.execute", "mcp:read,mcp:tools", ["tools.read,tools.execute"]])
async def test_a_comma_separated_scope_claim_is_malformed_never_silently_unnarrowed(scope: Any) -> None:
    app = RecordingApp()
    bearer = token(roles=["admin"], scope=scope)
    async with client(MCPAuthMiddleware(app, settings=settings())) as http:
        response = await http.get("/whoami", headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 401
    assert "Malformed scope claim" in response.json()["detail"]
    assert app.calls == 0


async def test_step_up_403_names_the_oauth_scope_that_grants_the_missing_permission() -> None:
    app = RecordingApp()
    bearer = token(scope="mcp:read")
    async with client(MCPAuthMiddleware(app, settings=settings())) as http:
        response = await http.post(
            "/mcp/", content=call_tool(), headers={**MCP_HEADERS, "Authorization": f"Bearer {bearer}"}
        )
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="mcp:tools"' in challenge
    assert app.calls == 0


async def test_step_up_403_names_the_permission_when_no_scope_grants_it() -> None:
    app = RecordingApp()
    bearer = token(roles=["viewer"])
    async with client(MCPAuthMiddleware(app, settings=AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE))) as http:
        response = await http.post(
            "/mcp/", content=call_tool(), headers={**MCP_HEADERS, "Authorization": f"Bearer {bearer}"}
        )
    assert response.status_code == 403
    assert 'scope="tools.execute:echo"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, 'scope="mcp:read files:read"'),  # default: the read-only mapped scopes
        ({"challenge_scopes": "mcp:read"}, 'scope="mcp:read"'),
    ],
)
async def test_the_401_challenge_lists_the_scopes_for_basic_access(extra: dict[str, Any], expected: str) -> None:
    async with client(MCPAuthMiddleware(RecordingApp(), settings=settings(**extra))) as http:
        response = await http.post("/mcp/", content=call_tool(), headers=MCP_HEADERS)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert expected in response.headers["www-authenticate"]


async def test_without_a_scope_map_the_401_challenge_names_no_scope() -> None:
    async with client(
        MCPAuthMiddleware(RecordingApp(), settings=AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE))
    ) as http:
        response = await http.get("/whoami")
    assert "scope=" not in response.headers["www-authenticate"]


def test_the_metadata_lists_the_oauth_scopes_not_permission_names() -> None:
    route = protected_resource_metadata_route(settings(), authorization_servers=["https://as.example.com"])
    document = json.loads(route.app.metadata.to_json())  # type: ignore[attr-defined]
    assert document["scopes_supported"] == ["mcp:read", "mcp:tools", "files:read"]


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        ("[]", "JSON object"),
        ("{", "not JSON"),
        ('{"mcp:tools": "tools.execute"}', "list of permission names"),
        ('{"mcp:tools": ["execute everything"]}', "not a permission name"),
        ('{"has space": ["tools.read"]}', "not an OAuth scope token"),
    ],
)
def test_a_malformed_scope_map_fails_at_start_up(value: str, fault: str) -> None:
    with pytest.raises(ConfigurationError, match=fault):
        AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, scope_permissions=value)
