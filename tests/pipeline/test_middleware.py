"""MCPAuthMiddleware: one identity per request, refusals never reach the app."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from apps import RecordingApp, client, protect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from tokens import AUDIENCE, OTHER_SECRET, SECRET, settings, token

from asgi_mcp_auth import MCPAuthMiddleware, current_principal, principal_from

pytestmark = pytest.mark.anyio

ADMIN_PAGE = "https://gw.example.com/admin/gateways"


async def test_valid_header_token_reaches_the_app_with_one_identity_everywhere() -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.get("/tools", headers={"Authorization": f"Bearer {token('alice', roles=['viewer'])}"})

    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == body["context_sub"] == "alice"
    assert body["token_source"] == "header"
    assert body["user_is_authenticated"] is True
    assert "tools.read" in body["auth_scopes"]


async def test_request_without_credentials_gets_401_with_a_bare_bearer_challenge() -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.get("/tools")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "Authentication required"}
    assert app.calls == 0


async def test_resource_metadata_url_is_advertised_in_every_401_challenge() -> None:
    app = protect(
        RecordingApp(), settings(resource_metadata_url="https://gw.example.com/.well-known/oauth-protected-resource")
    )
    async with client(app) as http:
        missing = await http.get("/tools")
        invalid = await http.get("/tools", headers={"Authorization": "Bearer not.a.jwt"})

    expected = 'resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource"'
    assert missing.headers["www-authenticate"] == f"Bearer {expected}"
    assert invalid.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert expected in invalid.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("headers", "status", "challenge"),
    [
        ({"Authorization": "Bearer not.a.jwt"}, 401, 'Bearer error="invalid_token"'),
        # No credential for this resource: the plain challenge, so MCP clients start OAuth discovery.
        ({}, 401, "Bearer"),
        ({"Authorization": "Basic YWxpY2U6cHc="}, 401, "Bearer"),
        ({"Authorization": "Digest username=alice"}, 401, "Bearer"),
        ({"Authorization": "Bearer"}, 401, "Bearer"),
        ({"Authorization": "Bearer   "}, 401, "Bearer"),
        ({"Authorization": ""}, 401, "Bearer"),
        # Ambiguous or malformed: still a bad request.
        ({"Authorization": "Bearer a.b.c d.e.f"}, 400, 'Bearer error="invalid_request"'),
        ({"Authorization": "Bearer a.b.c;x"}, 400, 'Bearer error="invalid_request"'),
    ],
)
async def test_bad_credentials_are_refused_with_the_status_of_their_error_type(
    headers: dict[str, str], status: int, challenge: str
) -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.get("/tools", headers=headers)

    assert response.status_code == status
    if challenge == "Bearer":
        assert response.headers["www-authenticate"] == "Bearer"  # RFC 6750 §3.1: no error=
    else:
        assert response.headers["www-authenticate"].startswith(challenge)
    assert app.calls == 0


async def test_two_authorization_headers_are_an_invalid_request() -> None:
    app = RecordingApp()
    headers = [("Authorization", f"Bearer {token('alice')}"), ("Authorization", f"Bearer {token('bob')}")]
    async with client(protect(app)) as http:
        response = await http.get("/tools", headers=headers)

    assert response.status_code == 400
    assert app.calls == 0


@pytest.mark.parametrize("path", ["/health", "/health/", "/.well-known/oauth-protected-resource"])
async def test_public_paths_pass_anonymously_with_an_unauthenticated_user(path: str) -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.get(path)

    assert response.status_code == 200
    assert response.json()["sub"] is None
    assert response.json()["context_sub"] is None
    assert response.json()["user"] == "UnauthenticatedUser"


@pytest.mark.parametrize("path", ["/health/../tools", "/healthz", "/health/x", "/HEALTH/./"])
async def test_paths_that_only_resemble_public_paths_need_credentials(path: str) -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.get(path)

    assert response.status_code == 401
    assert app.calls == 0


async def test_refusal_on_mcp_path_is_a_jsonrpc_error_echoing_the_request_id() -> None:
    app = RecordingApp()
    body = {"jsonrpc": "2.0", "id": 42, "method": "initialize", "params": {}}
    async with client(protect(app)) as http:
        response = await http.post("/mcp/", json=body, headers={"Authorization": "Bearer bad.token.here"})

    assert response.status_code == 401
    assert response.json() == {"jsonrpc": "2.0", "id": 42, "error": {"code": -32000, "message": "Invalid token"}}
    assert app.calls == 0


@pytest.mark.parametrize(
    ("content", "expected_id"),
    [
        (b'{"jsonrpc":"2.0","id":"abc","method":"ping"}', "abc"),
        (b'[{"jsonrpc":"2.0","id":7,"method":"ping"}]', 7),
        (b"not json", None),
        (b'{"jsonrpc":"2.0","id":{"nested":1},"method":"ping"}', None),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', None),
        (b"", None),
    ],
)
async def test_refusal_on_mcp_path_echoes_only_a_valid_id(content: bytes, expected_id: Any) -> None:
    async with client(protect(RecordingApp())) as http:
        response = await http.post("/mcp", content=content)

    assert response.status_code == 401
    assert response.json()["id"] == expected_id


async def test_refusal_on_mcp_path_does_not_read_an_oversized_body_for_its_id() -> None:
    content = b'{"jsonrpc":"2.0","id":5,"method":"ping","pad":"' + b"x" * 70_000 + b'"}'
    async with client(protect(RecordingApp())) as http:
        response = await http.post("/mcp", content=content)

    assert response.status_code == 401
    assert response.json()["id"] is None


async def test_context_variable_is_none_after_every_request_and_for_anonymous_ones() -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        await http.get("/tools", headers={"Authorization": f"Bearer {token('alice')}"})
        assert current_principal() is None
        anonymous = await http.get("/health")

    assert anonymous.json()["context_sub"] is None
    assert current_principal() is None


async def test_context_variable_is_reset_even_when_the_app_raises() -> None:
    seen: list[str | None] = []

    async def exploding(scope: Scope, receive: Receive, send: Send) -> None:
        principal = current_principal()
        seen.append(principal.subject if principal else None)
        raise RuntimeError("app failure")

    middleware = protect(exploding)
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/tools",
        "headers": [(b"authorization", f"Bearer {token('alice')}".encode())],
        "scheme": "https",
        "query_string": b"",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    with pytest.raises(RuntimeError, match="app failure"):
        await middleware(scope, receive, send)
    assert seen == ["alice"]
    assert current_principal() is None

    async with client(protect(RecordingApp())) as http:
        response = await http.get("/health")
    assert response.json()["context_sub"] is None


async def test_app_exceptions_are_not_turned_into_auth_errors() -> None:
    async def exploding(scope: Scope, receive: Receive, send: Send) -> None:
        raise KeyError("boom")

    transport = httpx.ASGITransport(app=protect(exploding), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.example.com") as http:
        with pytest.raises(KeyError):
            await http.get("/x", headers={"Authorization": f"Bearer {token()}"})


async def test_concurrent_requests_of_different_principals_each_see_their_own() -> None:
    async def slow_whoami(request: Request) -> JSONResponse:
        before = current_principal()
        await anyio.sleep(0.01)  # let the other requests interleave
        after = current_principal()
        return JSONResponse(
            {
                "scope": principal_from(request).subject,  # type: ignore[union-attr]
                "before": before.subject if before else None,
                "after": after.subject if after else None,
            }
        )

    app = protect(Starlette(routes=[Route("/whoami", slow_whoami)]))
    results: list[tuple[str, dict[str, str]]] = []

    async def call(http: httpx.AsyncClient, user: str) -> None:
        response = await http.get("/whoami", headers={"Authorization": f"Bearer {token(user)}"})
        results.append((user, response.json()))

    async with client(app) as http, anyio.create_task_group() as group:
        for index in range(60):
            group.start_soon(call, http, f"user-{index % 6}")

    assert len(results) == 60
    for user, seen in results:
        assert seen == {"scope": user, "before": user, "after": user}


async def test_lifespan_passes_through_untouched() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        assert "user" not in scope
        message = await receive()
        events.append(message["type"])
        await send({"type": "lifespan.startup.complete"})

    middleware = protect(app)
    messages = iter([{"type": "lifespan.startup"}])

    async def receive() -> Any:
        return next(messages)

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert events == ["lifespan.startup"]
    assert sent == [{"type": "lifespan.startup.complete"}]


async def test_streaming_response_chunks_pass_through_unbuffered() -> None:
    chunks_seen_by_app: list[int] = []

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(3):
            chunks_seen_by_app.append(index)
            await send({"type": "http.response.body", "body": f"chunk{index}\n".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("more_body"):
            # Each chunk reaches the server before the app produces the next one.
            assert len(chunks_seen_by_app) == sum(1 for m in sent if m.get("more_body"))

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/events",
        "headers": [(b"authorization", f"Bearer {token()}".encode())],
        "query_string": b"",
    }
    await protect(streaming)(scope, receive, send)
    assert [m.get("body") for m in sent[1:]] == [b"chunk0\n", b"chunk1\n", b"chunk2\n", b""]


def test_websocket_with_a_valid_token_is_authenticated() -> None:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        principal = principal_from(websocket)
        await websocket.send_text(principal.subject if principal else "")
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    app.add_middleware(MCPAuthMiddleware, settings=settings())
    with (
        TestClient(app) as test_client,
        test_client.websocket_connect("/ws", headers={"Authorization": f"Bearer {token('alice')}"}) as ws,
    ):
        assert ws.receive_text() == "alice"


def test_refused_websocket_is_closed_with_1008_before_accept() -> None:
    app = RecordingApp()
    with (
        TestClient(protect(app)) as test_client,
        pytest.raises(WebSocketDisconnect) as caught,
        test_client.websocket_connect("/ws"),
    ):
        pass

    assert caught.value.code == 1008
    assert app.calls == 0


async def test_token_signed_with_another_key_is_refused_without_detail() -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.get("/x", headers={"Authorization": f"Bearer {token(key=OTHER_SECRET)}"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token"}
    assert SECRET not in response.text
    assert OTHER_SECRET not in response.text


async def test_error_responses_are_not_cached() -> None:
    async with client(protect(RecordingApp())) as http:
        response = await http.get("/x")

    assert response.headers["cache-control"] == "no-store"


async def test_add_middleware_on_fastapi_works_as_the_readme_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi import FastAPI

    monkeypatch.setenv("MCP_AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("MCP_AUTH_JWT_AUDIENCE", AUDIENCE)
    app = FastAPI()
    app.add_middleware(MCPAuthMiddleware)

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str | None]:
        principal = principal_from(request)
        return {"sub": principal.subject if principal else None}

    async with client(app) as http:
        ok = await http.get("/whoami", headers={"Authorization": f"Bearer {token('alice')}"})
        refused = await http.get("/whoami")

    assert ok.json() == {"sub": "alice"}
    assert refused.status_code == 401


async def test_starlette_requires_decorator_sees_effective_permissions() -> None:
    from starlette.authentication import requires

    @requires("tools.read")
    async def tools(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = protect(Starlette(routes=[Route("/tools", tools)]))
    async with client(app) as http:
        viewer = await http.get("/tools", headers={"Authorization": f"Bearer {token(roles=['viewer'])}"})
        nobody = await http.get("/tools", headers={"Authorization": f"Bearer {token(roles=[])}"})

    assert viewer.status_code == 200
    assert nobody.status_code == 403


async def test_no_token_appears_in_any_response_body() -> None:
    good = token("alice")
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    async with client(protect(RecordingApp())) as http:
        for headers in (
            {"Authorization": f"Bearer {tampered}"},
            {"Authorization": f"Basic {good}"},
            {"Authorization": f"Bearer {good} {good}"},
        ):
            response = await http.post("/mcp", headers=headers, content=json.dumps({"id": 1}))
            assert good not in response.text
            assert tampered not in response.text
