"""Starlette's and the SDK's conventions: `@requires("authenticated")` on http and websocket
routes, `request.user.display_name`, and CORS preflights that pass unauthenticated."""

from __future__ import annotations

import pytest
from apps import RecordingApp, client
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect
from tokens import settings, token

from asgi_mcp_auth import MCPAuthMiddleware

pytestmark = pytest.mark.anyio

ORIGIN = "https://app.example.com"


@requires("authenticated")
async def me(request: Request) -> JSONResponse:
    return JSONResponse({"display_name": request.user.display_name, "scopes": list(request.auth.scopes)})


@requires("authenticated")
async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"display_name": websocket.user.display_name})
    await websocket.close()


def gateway() -> Starlette:
    return Starlette(
        routes=[Route("/me", me, methods=["GET", "POST"]), WebSocketRoute("/ws", socket)],
        middleware=[
            # CORS outside authentication: its preflight answers and its headers reach refusals too.
            Middleware(
                CORSMiddleware,
                allow_origins=[ORIGIN],
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            ),
            Middleware(MCPAuthMiddleware, settings=settings()),
        ],
    )


async def test_requires_authenticated_lets_every_authenticated_user_in_and_display_name_is_the_client_id() -> None:
    async with client(gateway()) as http:
        response = await http.get("/me", headers={"Authorization": f"Bearer {token(client_id='cli-7')}"})
    assert response.status_code == 200
    assert response.json()["display_name"] == "cli-7"
    assert "authenticated" in response.json()["scopes"]


def test_requires_authenticated_on_a_websocket_route() -> None:
    with TestClient(gateway(), base_url="https://gw.example.com") as http:
        with http.websocket_connect("/ws", headers={"Authorization": f"Bearer {token()}"}) as ws:
            assert ws.receive_json() == {"display_name": "alice"}
        with pytest.raises(WebSocketDisconnect), http.websocket_connect("/ws") as ws:
            ws.receive_json()


async def test_a_cors_preflight_passes_unauthenticated_and_gets_the_cors_answer() -> None:
    async with client(gateway()) as http:
        response = await http.options(
            "/me",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": ORIGIN},  # OPTIONS without Access-Control-Request-Method: not a preflight
        {"Access-Control-Request-Method": "POST"},  # no Origin: not a preflight
        {"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Authorization": "Bearer nonsense"},
        {"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Cookie": "jwt_token=nonsense"},
    ],
    ids=["no-request-method", "no-origin", "with-bearer", "with-cookie"],
)
async def test_an_options_request_that_is_not_a_bare_preflight_is_authenticated_as_usual(
    headers: dict[str, str],
) -> None:
    app = RecordingApp()
    async with client(MCPAuthMiddleware(app, settings=settings())) as http:
        response = await http.options("/mcp/", headers=headers)
    assert response.status_code == 401
    assert app.calls == 0


async def test_a_preflight_to_the_mcp_endpoint_reaches_no_method_check() -> None:
    app = RecordingApp()
    async with client(MCPAuthMiddleware(app, settings=settings())) as http:
        response = await http.options("/mcp/", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 200
    assert app.calls == 1
    assert response.json()["sub"] is None
