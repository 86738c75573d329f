"""`@requires_permission`: the Starlette endpoint decorator."""

from __future__ import annotations

import pytest
from apps import client, protect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect
from tokens import bearer, settings

from asgi_mcp_auth import ConfigurationError, principal_from
from asgi_mcp_auth.integrations.starlette import requires_permission

pytestmark = pytest.mark.anyio

METADATA_URL = "https://gw.example.com/.well-known/oauth-protected-resource"


# --------------------------------------------------------------------------- requires_permission


def gateway_app(**options: object) -> Starlette:
    @requires_permission("gateways.update")
    async def update(request: Request) -> JSONResponse:
        principal = principal_from(request)
        return JSONResponse({"updated_by": principal.subject if principal else None})

    @requires_permission("tools.execute", team_param="team_id")
    def team_tools(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"ran in {request.path_params['team_id']}")

    @requires_permission("tools.read")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("tools")
        await websocket.close()

    routes = [
        Route("/gateways/update", update, methods=["POST"]),
        Route("/open/update", update, methods=["POST"]),
        Route("/teams/{team_id}/tools", team_tools),
        WebSocketRoute("/feed", feed),
    ]
    return Starlette(routes=routes)


async def test_requires_permission_runs_the_endpoint_when_the_permission_is_held() -> None:
    async with client(protect(gateway_app())) as http:
        response = await http.post("/gateways/update", headers=bearer(roles=["admin"]))

    assert response.status_code == 200
    assert response.json() == {"updated_by": "alice"}


async def test_requires_permission_answers_403_with_an_insufficient_scope_challenge() -> None:
    async with client(protect(gateway_app())) as http:
        response = await http.post("/gateways/update", headers=bearer(roles=["developer"]))

    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="Permission denied: gateways.update required", '
        'scope="gateways.update"'
    )
    assert response.json() == {"detail": "Permission denied: gateways.update required"}


async def test_requires_permission_answers_401_to_an_anonymous_request() -> None:
    app = protect(gateway_app(), settings(public_paths=["/open/update"], resource_metadata_url=METADATA_URL))
    async with client(app) as http:
        response = await http.post("/open/update")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer resource_metadata="{METADATA_URL}"'


@pytest.mark.parametrize(
    ("team_roles", "path", "status"),
    [
        ({"team-a": ["developer"]}, "/teams/team-a/tools", 200),
        ({"team-a": ["developer"]}, "/teams/team-b/tools", 403),
        ({"team-a": ["viewer"]}, "/teams/team-a/tools", 403),
    ],
)
async def test_requires_permission_takes_the_team_from_a_path_parameter(
    team_roles: dict[str, list[str]], path: str, status: int
) -> None:
    async with client(protect(gateway_app())) as http:
        response = await http.get(path, headers=bearer(team_roles=team_roles))

    assert response.status_code == status


def test_requires_permission_closes_a_websocket_of_a_principal_without_the_permission() -> None:
    with TestClient(protect(gateway_app()), base_url="https://gw.example.com") as http:
        with http.websocket_connect("/feed", headers=bearer(roles=["viewer"])) as ws:
            assert ws.receive_text() == "tools"
        with pytest.raises(WebSocketDisconnect) as excinfo, http.websocket_connect("/feed", headers=bearer(roles=[])):
            pass

    assert excinfo.value.code == 1008


@pytest.mark.parametrize(
    ("permission", "options"),
    [("gateways", {}), ("tools.read ", {}), ("tools.read", {"team": "a", "team_param": "team_id"})],
)
def test_requires_permission_refuses_a_bad_declaration_at_import_time(permission: str, options: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        requires_permission(permission, **options)
