"""An `AuthError` raised by the application gets the middleware's answer, not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from apps import client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from tokens import settings, token

from asgi_mcp_auth import AuthenticationError, MCPAuthMiddleware, PermissionDenied, get_authenticator, principal_from

pytestmark = pytest.mark.anyio

VIEWER = token("viewer-user", roles=["viewer"])


async def update_gateway(request: Request) -> JSONResponse:
    # The README's pattern: a check in the route itself.
    get_authenticator(request).rbac.check(principal_from(request), "gateways.update")  # type: ignore[arg-type]
    return JSONResponse({"updated": True})


async def expired_session(request: Request) -> JSONResponse:
    raise AuthenticationError("Session expired")


async def late_refusal(request: Request) -> StreamingResponse:
    async def chunks() -> Any:
        yield b"partial"
        raise PermissionDenied("gateways.update")

    return StreamingResponse(chunks())


async def rpc_refusal(scope: Any, receive: Any, send: Any) -> None:
    raise PermissionDenied("tools.execute:rm")


def gateway() -> Starlette:
    app = Starlette(
        routes=[
            Route("/gateways/1", update_gateway, methods=["POST"]),
            Route("/session", expired_session),
            Route("/stream", late_refusal),
            Mount("/mcp", app=rpc_refusal),
        ]
    )
    app.add_middleware(MCPAuthMiddleware, settings=settings())  # as the README adds it
    return app


async def test_permission_denied_in_a_route_is_the_middlewares_403() -> None:
    async with client(gateway()) as http:
        response = await http.post("/gateways/1", headers={"Authorization": f"Bearer {VIEWER}"})

    assert response.status_code == 403
    assert response.json() == {"detail": "Permission denied: gateways.update required"}
    assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert 'scope="gateways.update"' in response.headers["www-authenticate"]


async def test_authentication_error_in_a_route_is_the_middlewares_401() -> None:
    async with client(gateway()) as http:
        response = await http.get("/session", headers={"Authorization": f"Bearer {VIEWER}"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Session expired"}
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_permission_denied_in_an_mcp_app_is_a_jsonrpc_403() -> None:
    async with client(gateway()) as http:
        response = await http.post(
            "/mcp/", json={"jsonrpc": "2.0", "id": 3, "method": "ping"}, headers={"Authorization": f"Bearer {VIEWER}"}
        )

    assert response.status_code == 403
    assert response.json()["error"] == {"code": -32000, "message": "Permission denied: tools.execute:rm required"}


async def test_an_auth_error_after_the_response_started_is_not_answered_twice() -> None:
    with pytest.raises(PermissionDenied):
        async with client(gateway()) as http:
            await http.get("/stream", headers={"Authorization": f"Bearer {VIEWER}"})
