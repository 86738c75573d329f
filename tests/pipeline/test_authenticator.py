"""Custom authenticators: only an explicit success authenticates (seed 002)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from apps import RecordingApp, client, protect
from starlette.requests import HTTPConnection
from tokens import settings, token

from asgi_mcp_auth import (
    AuthenticationError,
    AuthResult,
    InvalidRequest,
    PermissionDenied,
    Principal,
    get_authenticator,
)

pytestmark = pytest.mark.anyio

INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
)


class TruthyObject:
    authenticated = "yes"
    error = None


FAILING_RESULTS: list[tuple[str, Any, str]] = [
    ("none", None, "Authentication failed"),
    ("false", False, "Authentication failed"),
    ("true", True, "Authentication failed"),
    ("AuthResult false with error", AuthResult(authenticated=False, error="Invalid JWT token"), "Invalid JWT token"),
    ("AuthResult false without error", AuthResult(authenticated=False), "Authentication failed"),
    ("AuthResult true without principal", AuthResult(authenticated=True), "Authentication failed"),
    (
        "AuthResult truthy non-bool",
        AuthResult(authenticated="true", principal=Principal(subject="x")),  # type: ignore[arg-type]
        "Authentication failed",
    ),
    ("dict authenticated false", {"authenticated": False, "error": "Invalid JWT"}, "Invalid JWT"),
    ("dict authenticated string false", {"authenticated": "false"}, "Authentication failed"),
    ("dict authenticated true", {"authenticated": True, "session": {"userId": "1"}}, "Authentication failed"),
    ("dict error not a string", {"authenticated": False, "error": {"detail": "x"}}, "Authentication failed"),
    ("truthy object", TruthyObject(), "Authentication failed"),
    ("string", "alice", "Authentication failed"),
    ("empty principal list", [], "Authentication failed"),
]


@pytest.mark.parametrize(("case", "result", "message"), FAILING_RESULTS, ids=[c for c, _, _ in FAILING_RESULTS])
async def test_seed_002_every_non_success_result_is_a_401_and_the_app_is_never_called(
    case: str, result: Any, message: str
) -> None:
    async def authenticate(conn: HTTPConnection) -> Any:
        return result

    app = RecordingApp()
    async with client(protect(app, authenticate=authenticate)) as http:
        response = await http.post("/mcp", content=INITIALIZE, headers={"Accept": "application/json"})

    assert response.status_code == 401
    assert response.json() == {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": message}}
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert app.calls == 0


async def test_error_text_from_a_custom_authenticator_is_cleaned_and_bounded() -> None:
    async def authenticate(conn: HTTPConnection) -> AuthResult:
        return AuthResult(authenticated=False, error="bad\r\nSet-Cookie: x=1" + "!" * 500)

    async with client(protect(RecordingApp(), authenticate=authenticate)) as http:
        response = await http.get("/x")

    detail = response.json()["detail"]
    assert "\n" not in detail
    assert "\r" not in detail
    assert len(detail) <= 200
    assert "\n" not in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "result",
    [
        Principal(subject="alice", roles=frozenset({"viewer"})),
        AuthResult(authenticated=True, principal=Principal(subject="alice", roles=frozenset({"viewer"}))),
    ],
)
async def test_principal_or_explicit_success_authenticates_with_role_permissions(result: Any) -> None:
    async def authenticate(conn: HTTPConnection) -> Any:
        return result

    async with client(protect(RecordingApp(), authenticate=authenticate)) as http:
        response = await http.get("/x")

    assert response.status_code == 200
    assert response.json()["sub"] == "alice"
    assert "tools.read" in response.json()["auth_scopes"]


EXCEPTION_STATUS: list[tuple[BaseException, int]] = [
    (AuthenticationError("nope"), 401),
    (InvalidRequest("two tokens"), 400),
    (PermissionDenied("gateways.update"), 403),
    (RuntimeError("database password is hunter2"), 500),
    (ValueError("Authentication failed: Invalid JWT"), 500),
    (KeyError("Unauthorized"), 500),
]


@pytest.mark.parametrize(("exception", "status"), EXCEPTION_STATUS, ids=[repr(e) for e, _ in EXCEPTION_STATUS])
async def test_status_comes_from_the_exception_type_never_its_message(
    exception: BaseException, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    async def authenticate(conn: HTTPConnection) -> Any:
        raise exception

    app = RecordingApp()
    with caplog.at_level(logging.ERROR, logger="asgi_mcp_auth"):
        async with client(protect(app, authenticate=authenticate)) as http:
            response = await http.post("/mcp", content=INITIALIZE)

    assert response.status_code == status
    assert response.json()["id"] == 1
    assert app.calls == 0
    if status == 500:
        assert response.json()["error"]["message"] == "Internal error while authenticating"
        assert "hunter2" not in response.text
        assert "Traceback" not in response.text
        assert any(record.exc_info for record in caplog.records)


async def test_revocation_check_runs_on_every_request_cached_or_not() -> None:
    revoked: set[str] = set()
    checks: list[str] = []

    def is_revoked(principal: Principal) -> bool:
        checks.append(principal.subject)
        return principal.subject in revoked

    app = RecordingApp()
    raw = token("alice")
    async with client(protect(app, is_revoked=is_revoked)) as http:
        first = await http.get("/x", headers={"Authorization": f"Bearer {raw}"})
        revoked.add("alice")
        second = await http.get("/x", headers={"Authorization": f"Bearer {raw}"})

    assert first.status_code == 200
    assert second.status_code == 401
    assert second.json() == {"detail": "Token revoked"}
    assert checks == ["alice", "alice"]


async def test_async_revocation_check_is_awaited() -> None:
    async def is_revoked(principal: Principal) -> bool:
        return True

    async with client(protect(RecordingApp(), is_revoked=is_revoked)) as http:
        response = await http.get("/x", headers={"Authorization": f"Bearer {token()}"})

    assert response.status_code == 401


async def test_revocation_check_answering_anything_but_false_refuses() -> None:
    def is_revoked(principal: Principal) -> Any:
        return None  # a forgetful hook must not let the token through

    async with client(protect(RecordingApp(), is_revoked=is_revoked)) as http:
        response = await http.get("/x", headers={"Authorization": f"Bearer {token()}"})

    assert response.status_code == 401


async def test_get_authenticator_returns_the_middlewares_own_instance_for_a_request_it_saw() -> None:
    seen: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(get_authenticator(scope))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = protect(app)
    protect(RecordingApp())  # another one: it changes nothing for a request the first one saw
    async with client(middleware) as http:
        await http.get("/health")

    assert seen == [middleware.authenticator]


async def _never(conn: HTTPConnection) -> None:
    raise AssertionError("not called")


async def test_authenticator_needs_exactly_one_way_to_authenticate() -> None:
    from asgi_mcp_auth import Authenticator

    with pytest.raises(TypeError):
        Authenticator.from_settings(settings(), verifier=object(), authenticate=_never)  # type: ignore[arg-type]
