"""FastAPI's `require_permission`: the middleware's principal and policy, 401/403 with the
RFC 6750 challenge, and a bearer security scheme in the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from apps import client
from fastapi import Depends, FastAPI
from tokens import settings, token

from asgi_mcp_auth import AuthSettings, ConfigurationError, MCPAuthMiddleware, Principal
from asgi_mcp_auth.integrations.fastapi import require_permission

pytestmark = pytest.mark.anyio

METADATA_URL = "https://gw.example.com/.well-known/oauth-protected-resource"


def gateway_app(auth_settings: AuthSettings | None = None) -> FastAPI:
    app = FastAPI()

    @app.post("/gateways/{gateway_id}/refresh")
    async def refresh(
        gateway_id: str, principal: Annotated[Principal, Depends(require_permission("gateways.update"))]
    ) -> dict[str, str]:
        return {"gateway_id": gateway_id, "refreshed_by": principal.subject}

    @app.get(
        "/teams/{team_id}/tools", dependencies=[Depends(require_permission("tools.execute", team_param="team_id"))]
    )
    async def team_tools(team_id: str) -> dict[str, str]:
        return {"team": team_id}

    @app.get("/team-a/tools", dependencies=[Depends(require_permission("tools.execute", team="team-a"))])
    async def team_a_tools() -> dict[str, str]:
        return {"team": "team-a"}

    @app.get("/open/refresh", dependencies=[Depends(require_permission("gateways.update"))])
    async def open_refresh() -> dict[str, str]:
        return {"refreshed": "yes"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(
        MCPAuthMiddleware,
        settings=auth_settings
        or settings(public_paths=["/health", "/openapi.json", "/open/refresh"], resource_metadata_url=METADATA_URL),
    )
    return app


def bearer(**claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('alice', **claims)}"}


async def test_dependency_returns_the_principal_when_the_permission_is_held() -> None:
    async with client(gateway_app()) as http:
        response = await http.post("/gateways/gw-1/refresh", headers=bearer(roles=["admin"]))

    assert response.status_code == 200
    assert response.json() == {"gateway_id": "gw-1", "refreshed_by": "alice"}


async def test_dependency_answers_403_with_an_insufficient_scope_challenge() -> None:
    async with client(gateway_app()) as http:
        response = await http.post("/gateways/gw-1/refresh", headers=bearer(roles=["developer"]))

    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="Permission denied: gateways.update required", '
        f'scope="gateways.update", resource_metadata="{METADATA_URL}"'
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"detail": "Permission denied: gateways.update required"}


async def test_dependency_answers_401_to_an_anonymous_request() -> None:
    async with client(gateway_app()) as http:
        response = await http.get("/open/refresh")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer resource_metadata="{METADATA_URL}"'
    assert response.json() == {"detail": "Authentication required"}


@pytest.mark.parametrize(
    ("claims", "path", "status"),
    [
        ({"team_roles": {"team-a": ["developer"]}}, "/teams/team-a/tools", 200),
        ({"team_roles": {"team-a": ["developer"]}}, "/teams/team-b/tools", 403),
        ({"team_roles": {"team-b": ["developer"]}}, "/team-a/tools", 403),
        ({"team_roles": {"team-a": ["developer"]}}, "/team-a/tools", 200),
        ({"team_roles": {"team-a": ["viewer"]}}, "/team-a/tools", 403),
        ({"roles": ["developer"]}, "/teams/any-team/tools", 200),
        ({"team_roles": {"team-a": ["developer"]}, "scope": "tools.read"}, "/team-a/tools", 403),
    ],
)
async def test_dependency_checks_team_permissions_for_the_named_or_path_team(
    claims: dict[str, Any], path: str, status: int
) -> None:
    async with client(gateway_app()) as http:
        response = await http.get(path, headers=bearer(**claims))

    assert response.status_code == status


async def test_dependency_uses_the_policy_of_the_middleware() -> None:
    policy = '{"extends_builtin": false, "roles": {"operator": ["gateways.*"]}}'
    app = gateway_app(settings(rbac_policy=policy))
    async with client(app) as http:
        operator = await http.post("/gateways/gw-1/refresh", headers=bearer(roles=["operator"]))
        admin = await http.post("/gateways/gw-1/refresh", headers=bearer(roles=["admin"]))

    assert operator.status_code == 200
    assert admin.status_code == 403


async def test_openapi_declares_the_bearer_scheme_and_each_route_requires_it() -> None:
    async with client(gateway_app()) as http:
        document = (await http.get("/openapi.json")).json()

    assert document["components"]["securitySchemes"]["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token for this gateway, sent as `Authorization: Bearer <token>`.",
    }
    assert document["paths"]["/gateways/{gateway_id}/refresh"]["post"]["security"] == [{"BearerAuth": []}]
    assert document["paths"]["/teams/{team_id}/tools"]["get"]["security"] == [{"BearerAuth": []}]
    assert "security" not in document["paths"]["/health"]["get"]


async def test_authorize_button_header_is_the_credential_the_middleware_accepts() -> None:
    # Swagger UI's "Authorize" sends exactly `Authorization: Bearer <token>` for the scheme.
    async with client(gateway_app()) as http:
        scheme = (await http.get("/openapi.json")).json()["components"]["securitySchemes"]["BearerAuth"]
        header = {"Authorization": f"{scheme['scheme'].capitalize()} {token('alice', roles=['admin'])}"}
        response = await http.post("/gateways/gw-1/refresh", headers=header)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("permission", "options"),
    [("gateways", {}), ("gateways.update,tools.read", {}), ("tools.read", {"team": "a", "team_param": "team_id"})],
)
def test_dependency_with_a_bad_declaration_fails_when_the_route_is_declared(
    permission: str, options: dict[str, str]
) -> None:
    with pytest.raises(ConfigurationError):
        require_permission(permission, **options)
