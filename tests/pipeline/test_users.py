"""The `mcp` SDK compatibility user: `scope["user"]`, its `AccessToken`, `get_access_token()`.

End-to-end behaviour through the SDK's own session manager is in `test_mcp_sdk.py`; this file
checks what the middleware hands the SDK, and that the package works without `mcp`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from subprocess_support import run_with_blocked_imports
from tokens import AUDIENCE, ISSUER, settings, token

from asgi_mcp_auth import AuthResult, MCPAuthMiddleware, Principal
from asgi_mcp_auth.pipeline.users import HAS_MCP, MCPPrincipalUser

pytestmark = pytest.mark.anyio


class Seen:
    """A route app that records `request.user` and the SDK's `get_access_token()` of each request."""

    def __init__(self, *, fail: bool = False) -> None:
        self.users: list[Any] = []
        self.access_tokens: list[Any] = []
        self.fail = fail

    async def endpoint(self, request: Request) -> Response:
        self.users.append(request.user)
        self.access_tokens.append(get_access_token())
        if self.fail:
            raise RuntimeError("the app failed after authentication")
        return JSONResponse({"ok": True})

    def app(self, **middleware_options: Any) -> MCPAuthMiddleware:
        routes = [Route("/api", self.endpoint), Route("/health", self.endpoint)]
        options: dict[str, Any] = {"settings": settings()}
        options.update(middleware_options)
        return MCPAuthMiddleware(Starlette(routes=routes), **options)


async def get(app: MCPAuthMiddleware, path: str, bearer: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get(path, headers=headers)


async def sdk_user_for(bearer: str) -> MCPPrincipalUser:
    seen = Seen()
    response = await get(seen.app(), "/api", bearer)
    assert response.status_code == 200
    user = seen.users[0]
    assert isinstance(user, MCPPrincipalUser)
    return user


def test_mcp_is_detected_in_the_test_environment() -> None:
    assert HAS_MCP


async def test_request_user_is_the_sdks_authenticated_user_carrying_the_principal_and_an_access_token() -> None:
    bearer = token("alice", roles=["developer"], scope="tools.execute openid", client_id="cli-1", iss=ISSUER)
    user = await sdk_user_for(bearer)

    assert isinstance(user, AuthenticatedUser)
    assert user.principal.subject == "alice"
    access = user.access_token
    assert access.token == bearer
    assert access.client_id == "cli-1"
    assert access.subject == "alice"
    assert access.scopes == ["openid", "tools.execute"]  # the token's OAuth scopes, as granted
    assert access.expires_at == user.principal.expires_at
    assert access.expires_at is not None
    assert access.resource == AUDIENCE
    assert access.claims is not None
    assert access.claims["iss"] == ISSUER
    assert access.claims["sub"] == "alice"
    assert user.display_name == "cli-1"  # the SDK's AuthenticatedUser answers its client id
    assert user.identity == "alice"


@pytest.mark.parametrize(
    ("client_claims", "expected_client_id"),
    [
        pytest.param({"client_id": "cli-1"}, "cli-1", id="client_id-claim"),
        pytest.param({"azp": "cli-2"}, "cli-2", id="azp-claim"),
        pytest.param({"client_id": "cli-1", "azp": "cli-2"}, "cli-1", id="client_id-before-azp"),
        pytest.param({}, "alice", id="subject-when-no-client-claim"),
    ],
)
async def test_access_token_client_id_is_the_client_claim_else_the_subject(
    client_claims: dict[str, Any], expected_client_id: str
) -> None:
    user = await sdk_user_for(token("alice", roles=["developer"], **client_claims))
    assert user.access_token.client_id == expected_client_id


async def test_sdk_session_owner_is_stable_across_tokens_of_one_client_and_subject() -> None:
    # The SDK binds a session to authorization_context(user): a refreshed token with other
    # scopes must map to the same owner, another subject, client or issuer must not.
    first = await sdk_user_for(token("alice", roles=["developer"], azp="cli", iss=ISSUER, scope="tools.read", jti="1"))
    refreshed = await sdk_user_for(
        token("alice", roles=["developer"], azp="cli", iss=ISSUER, scope="tools.execute", jti="2")
    )
    other_subject = await sdk_user_for(token("bob", roles=["developer"], azp="cli", iss=ISSUER))
    other_client = await sdk_user_for(token("alice", roles=["developer"], azp="other-cli", iss=ISSUER))
    other_issuer = await sdk_user_for(token("alice", roles=["developer"], azp="cli", iss="https://evil.example"))

    owner = authorization_context(first)
    assert authorization_context(refreshed) == owner
    assert owner == {"client_id": "cli", "issuer": ISSUER, "subject": "alice"}
    for user in (other_subject, other_client, other_issuer):
        assert authorization_context(user) != owner


async def test_get_access_token_in_the_app_is_this_requests_token_and_is_reset_afterwards() -> None:
    seen = Seen()
    app = seen.app()
    alice, bob = token("alice", roles=["developer"]), token("bob", roles=["developer"])

    for bearer in (alice, bob, alice):
        assert (await get(app, "/api", bearer)).status_code == 200
        # httpx's ASGI transport runs the app in this task: a value left set would show here.
        assert get_access_token() is None

    assert [access.token for access in seen.access_tokens] == [alice, bob, alice]
    assert [access.subject for access in seen.access_tokens] == ["alice", "bob", "alice"]


async def test_get_access_token_is_reset_when_the_app_raises() -> None:
    seen = Seen(fail=True)
    with pytest.raises(RuntimeError, match="the app failed"):
        await get(seen.app(), "/api", token("alice", roles=["developer"]))
    assert seen.access_tokens[0] is not None
    assert get_access_token() is None


async def test_public_path_has_no_sdk_user_and_no_access_token() -> None:
    seen = Seen()
    assert (await get(seen.app(), "/health")).status_code == 200
    assert not isinstance(seen.users[0], AuthenticatedUser)
    assert not seen.users[0].is_authenticated
    assert seen.access_tokens == [None]


async def test_custom_authenticator_principal_gets_an_sdk_user_without_a_token_string() -> None:
    async def authenticate(conn: HTTPConnection) -> AuthResult:
        principal = Principal(subject="svc", issuer=ISSUER, client_id="svc-client", scopes=frozenset({"mcp"}))
        return AuthResult(authenticated=True, principal=principal)

    seen = Seen()
    response = await get(seen.app(authenticate=authenticate), "/api")
    assert response.status_code == 200
    access = seen.access_tokens[0]
    assert access is not None
    assert (access.token, access.client_id, access.subject, access.scopes) == ("", "svc-client", "svc", ["mcp"])
    assert access.claims == {"iss": ISSUER}


# --------------------------------------------------------------------------- without mcp

BLOCK_MCP = """
import importlib.abc
import sys


class BlockMCP(importlib.abc.MetaPathFinder):
    # Behaves as if the `mcp` distribution (and its `mcp_types`) were not installed.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("mcp", "mcp_types"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None


sys.meta_path.insert(0, BlockMCP())
"""

CHILD = """
import json
import sys

try:
    import mcp  # noqa: F401
except ImportError:
    mcp_blocked = True
else:
    mcp_blocked = False

import httpx
import anyio
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import asgi_mcp_auth
from asgi_mcp_auth import MCPAuthMiddleware, principal_from
from asgi_mcp_auth.pipeline import users as integration
from asgi_mcp_auth.integrations.metadata import protected_resource_metadata_route
from tokens import settings, token


async def whoami(request):
    principal = principal_from(request)
    return JSONResponse({"user": type(request.user).__name__, "sub": principal.subject})


async def main():
    app = MCPAuthMiddleware(Starlette(routes=[Route("/api", whoami)]), settings=settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        ok = await client.get("/api", headers={"Authorization": "Bearer " + token("alice")})
        refused = await client.get("/api")
    protected_resource_metadata_route(settings(), authorization_servers=["https://idp.example.com"])
    print(json.dumps({
        "mcp_blocked": mcp_blocked,
        "has_mcp": integration.HAS_MCP,
        "mcp_modules": sorted(name for name in sys.modules if name.split(".")[0] in ("mcp", "mcp_types")),
        "status": ok.status_code,
        "body": ok.json(),
        "refused_status": refused.status_code,
    }))


anyio.run(main)
"""


def test_package_imports_and_authenticates_with_a_principal_user_when_mcp_is_not_installed(tmp_path: Path) -> None:
    report = run_with_blocked_imports(tmp_path, BLOCK_MCP, CHILD)
    assert report == {
        "mcp_blocked": True,
        "has_mcp": False,
        "mcp_modules": [],
        "status": 200,
        "body": {"user": "PrincipalUser", "sub": "alice"},
        "refused_status": 401,
    }
