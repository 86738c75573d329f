"""The real `mcp` SDK (2.3) behind `MCPAuthMiddleware`: its client, its session manager, its tools.

The gateway under test is built inline: Starlette + `MCPAuthMiddleware` + the example MCP server
mounted at `/mcp` (session manager run in the app lifespan) + the RFC 9728 metadata routes. It is
served by a real uvicorn on 127.0.0.1 (`LiveServer`) or, where a test says so, in process
through the httpx ASGI transports; the `served` fixture runs a test both ways.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import anyio
import httpx
import httpx2
import pytest
from asgi_lifespan import LifespanManager
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_harness import RawMCPSession, RawResponse, call_tool_once, live_server, sdk_session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Mount
from tokens import AUDIENCE, ISSUER, settings, token

from asgi_mcp_auth import AuthResult, MCPAuthMiddleware, Principal
from asgi_mcp_auth.integrations.metadata import WELL_KNOWN_PATH, protected_resource_metadata_routes
from examples.fastapi_app.mcp_server import STATELESS_ENV, ExampleMCPServer, build_mcp_server, mcp_lifespan

pytestmark = pytest.mark.anyio

METADATA_PATH = WELL_KNOWN_PATH + "/mcp"
METADATA_URL = "https://gw.example.com" + METADATA_PATH
PUBLIC_PATHS = ["/health", WELL_KNOWN_PATH, METADATA_PATH]
UNKNOWN_SESSION_ID = "0" * 32

Transport = Literal["uvicorn", "in-process"]
CustomAuthenticate = Callable[[HTTPConnection], Awaitable[object]]


def bearer(sub: str, *, scope: str = "tools.execute tools.read", client: str | None = None, **claims: Any) -> str:
    """A developer token for `sub`, issued to the client `client` (default `cli-<sub>`)."""
    return token(sub, roles=["developer"], scope=scope, azp=client or f"cli-{sub}", iss=ISSUER, **claims)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class AccessTokenSeen(TypedDict):
    sha256: str
    subject: str | None
    client_id: str
    scopes: list[str]
    resource: str | None
    issuer: str | None


@dataclass(frozen=True)
class Gateway:
    app: Starlette
    mcp: ExampleMCPServer


def build_gateway(*, authenticate: CustomAuthenticate | None = None, stateless: bool | None = False) -> Gateway:
    mcp = build_mcp_server(stateless=stateless)

    @mcp.server.tool()
    def access_token_seen() -> AccessTokenSeen:
        """What the SDK's `get_access_token()` returns inside a tool (a digest, never the token)."""
        access = get_access_token()
        if access is None:
            raise ToolError("no access token")
        return AccessTokenSeen(
            sha256=digest(access.token),
            subject=access.subject,
            client_id=access.client_id,
            scopes=access.scopes,
            resource=access.resource,
            issuer=(access.claims or {}).get("iss"),
        )

    auth_settings = settings(public_paths=PUBLIC_PATHS, resource_metadata_url=METADATA_URL)
    routes: list[BaseRoute] = [
        *protected_resource_metadata_routes(
            auth_settings, authorization_servers=[ISSUER], scopes_supported=["tools.read", "tools.execute"]
        ),
        Mount("/mcp", mcp.asgi_app),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lambda _app: mcp_lifespan(mcp),
        middleware=[Middleware(MCPAuthMiddleware, settings=auth_settings, authenticate=authenticate)],
    )
    return Gateway(app=app, mcp=mcp)


@dataclass(frozen=True)
class Served:
    """Where the gateway answers: a base URL and, in process, the transports that reach it."""

    base_url: str
    sdk_transport: httpx2.AsyncBaseTransport | None = None
    http_transport: httpx.AsyncBaseTransport | None = None

    @property
    def mcp_url(self) -> str:
        return self.base_url + "/mcp/"

    def http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.http_transport, timeout=30)

    def raw_session(self, client: httpx.AsyncClient) -> RawMCPSession:
        return RawMCPSession(client, self.mcp_url)


@contextlib.asynccontextmanager
async def serve(app: Starlette, how: Transport) -> AsyncIterator[Served]:
    if how == "uvicorn":
        async with live_server(app) as base_url:
            yield Served(base_url)
    else:
        async with LifespanManager(app):
            # Host 127.0.0.1 (no port) is among the SDK's allowed hosts of the example server.
            yield Served("http://127.0.0.1", httpx2.ASGITransport(app=app), httpx.ASGITransport(app=app))


@pytest.fixture(params=["uvicorn", "in-process"])
def how(request: pytest.FixtureRequest) -> Transport:
    value: Transport = request.param
    return value


def whoami_of(response: RawResponse) -> dict[str, Any]:
    structured: dict[str, Any] = response.result["structuredContent"]
    return structured


# --------------------------------------------------------------------------- seed 002


async def refuse_with_auth_result(conn: HTTPConnection) -> object:
    return AuthResult(authenticated=False, error="Invalid JWT token")


async def refuse_with_string_false(conn: HTTPConnection) -> object:
    return {"authenticated": "false"}


async def refuse_with_untyped_success(conn: HTTPConnection) -> object:
    return {"authenticated": True, "session": {"userId": "123"}}


class Truthy:
    def __bool__(self) -> bool:
        return True


async def refuse_with_truthy_object(conn: HTTPConnection) -> object:
    return Truthy()


REFUSALS = [
    pytest.param(None, None, "Authentication required", id="no-token"),
    pytest.param(None, "not.a.jwt", "Invalid token", id="invalid-token"),
    pytest.param(None, token("alice", roles=["developer"], exp=1), "Token expired", id="expired-token"),
    pytest.param(refuse_with_auth_result, bearer("alice"), "Invalid JWT token", id="AuthResult-authenticated-False"),
    pytest.param(
        refuse_with_string_false, bearer("alice"), "Authentication failed", id="dict-authenticated-string-false"
    ),
    pytest.param(
        refuse_with_untyped_success, bearer("alice"), "Authentication failed", id="dict-authenticated-True-untyped"
    ),
    pytest.param(refuse_with_truthy_object, bearer("alice"), "Authentication failed", id="truthy-non-result-object"),
]


@pytest.mark.parametrize(("authenticate", "credential", "message"), REFUSALS)
async def test_seed_002_refused_initialize_creates_no_session(
    how: Transport, authenticate: CustomAuthenticate | None, credential: str | None, message: str
) -> None:
    gateway = build_gateway(authenticate=authenticate)
    async with serve(gateway.app, how) as served, served.http_client() as client:
        raw = served.raw_session(client)
        response = await raw.initialize(token=credential)

        assert response.status == 401
        assert response.headers["content-type"] == "application/json"
        assert "mcp-session-id" not in response.headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["www-authenticate"].endswith(f'resource_metadata="{METADATA_URL}"')
        # A JSON-RPC error echoing the id (1) of the refused initialize.
        assert response.response == {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": message}}
        assert gateway.mcp.live_sessions() == 0

        # The SDK client is refused the same way, and leaves no session behind either.
        with pytest.raises(MCPError) as refused:
            await call_tool_once(served.mcp_url, credential, "whoami", transport=served.sdk_transport)
        assert (refused.value.code, refused.value.message) == (-32000, message)
        assert gateway.mcp.live_sessions() == 0


async def test_accepted_initialize_creates_exactly_one_session_with_a_typed_custom_success() -> None:
    # The control for the seed-002 test: sessions are counted, and a typed success does open one.
    async def accept(conn: HTTPConnection) -> object:
        return AuthResult(authenticated=True, principal=Principal(subject="svc", permissions=frozenset({"*"})))

    gateway = build_gateway(authenticate=accept)
    async with serve(gateway.app, "in-process") as served, served.http_client() as client:
        response = await served.raw_session(client).initialize(token=None)
        assert response.status == 200
        assert response.headers["mcp-session-id"]
        assert gateway.mcp.live_sessions() == 1


# --------------------------------------------------------------------------- one session, many requests


async def test_each_call_in_one_stateful_session_sees_the_scopes_of_its_own_token(how: Transport) -> None:
    # The SDK client itself sends tools/list (to validate results): both tokens need tools.read.
    narrow = bearer("alice", scope="tools.execute tools.read openid")
    wide = bearer("alice", scope="tools.execute tools.read resources.read profile")
    expected = {
        narrow: ["openid", "tools.execute", "tools.read"],
        wide: ["profile", "resources.read", "tools.execute", "tools.read"],
    }
    gateway = build_gateway()
    async with (
        serve(gateway.app, how) as served,
        sdk_session(served.mcp_url, narrow, transport=served.sdk_transport) as (
            session,
            auth,
        ),
    ):
        seen = []
        for call in range(50):
            auth.token = narrow if call % 2 == 0 else wide
            result = await session.call_tool("whoami", {})
            assert not result.is_error
            assert result.structured_content is not None
            seen.append((expected[auth.token], result.structured_content))
        assert gateway.mcp.live_sessions() == 1  # all 50 calls went to the one session

    for scopes, whoami in seen:
        assert whoami == {
            "sub": "alice",
            "token_source": "header",
            "scopes": scopes,
            "context_sub": "alice",
            "access_token_sub": "alice",
        }


@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
async def test_get_access_token_in_a_tool_is_the_token_of_the_current_request(how: Transport, stateless: bool) -> None:
    first = bearer("alice", scope="tools.execute tools.read openid", jti="first")
    second = bearer("alice", scope="tools.execute tools.read", jti="second")
    scopes = {first: ["openid", "tools.execute", "tools.read"], second: ["tools.execute", "tools.read"]}
    gateway = build_gateway(stateless=stateless)
    async with (
        serve(gateway.app, how) as served,
        sdk_session(served.mcp_url, first, transport=served.sdk_transport) as (
            session,
            auth,
        ),
    ):
        for current in (first, second, second, first, second):
            auth.token = current
            result = await session.call_tool("access_token_seen", {})
            assert result.structured_content == {
                "sha256": digest(current),
                "subject": "alice",
                "client_id": "cli-alice",
                "scopes": scopes[current],
                "resource": AUDIENCE,
                "issuer": ISSUER,
            }
        assert gateway.mcp.live_sessions() == (0 if stateless else 1)


# --------------------------------------------------------------------------- session binding


async def test_session_opened_by_one_user_answers_another_user_exactly_as_an_unknown_session(how: Transport) -> None:
    alice, bob = bearer("alice"), bearer("bob")
    alice_other_client = bearer("alice", client="another-client")
    gateway = build_gateway()
    async with serve(gateway.app, how) as served, served.http_client() as client:
        owned = served.raw_session(client)
        assert (await owned.initialize(token=alice)).status == 200
        unknown = served.raw_session(client)
        unknown.session_id = UNKNOWN_SESSION_ID

        as_unknown = await unknown.call_tool("whoami", token=bob)
        as_bob = await owned.call_tool("whoami", token=bob)
        as_alice_elsewhere = await owned.call_tool("whoami", token=alice_other_client)
        for response in (as_unknown, as_bob, as_alice_elsewhere):
            assert response.status == 404
            assert response.headers["content-type"] == as_unknown.headers["content-type"]
            assert response.text == as_unknown.text
        assert await owned.delete(token=bob) == 404

        still_alice = await owned.call_tool("whoami", token=alice)
        assert still_alice.status == 200
        assert whoami_of(still_alice)["sub"] == "alice"
        assert gateway.mcp.live_sessions() == 1


# --------------------------------------------------------------------------- concurrency


async def run_concurrent_clients(
    served: Served, gateway: Gateway, *, clients: int, identities: int, calls: int
) -> None:
    """Every client opens a session; once ALL are open, each calls whoami `calls` times, interleaved."""
    tokens = [bearer(f"user-{n:02d}") for n in range(identities)]
    all_open = anyio.Event()
    opened = 0
    live_when_all_open: list[int] = []
    wrong: list[tuple[str, dict[str, Any] | None]] = []
    answered = 0

    async def client(n: int) -> None:
        nonlocal opened, answered
        identity = f"user-{n % identities:02d}"
        async with sdk_session(served.mcp_url, tokens[n % identities], transport=served.sdk_transport) as (session, _):
            opened += 1
            if opened == clients:
                live_when_all_open.append(gateway.mcp.live_sessions())
                all_open.set()
            await all_open.wait()
            for _call in range(calls):
                result = await session.call_tool("whoami", {})
                seen = result.structured_content
                answered += 1
                if (
                    result.is_error
                    or seen is None
                    or {seen["sub"], seen["context_sub"], seen["access_token_sub"]} != {identity}
                ):
                    wrong.append((identity, seen))

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            for n in range(clients):
                group.start_soon(client, n)

    assert live_when_all_open == [clients]
    assert answered == clients * calls
    assert wrong == []


@pytest.mark.slow
async def test_200_concurrent_clients_of_20_identities_never_see_another_identity() -> None:
    # Over real uvicorn: about 25 s on an idle 2-core machine (8 s in process, which adds nothing here).
    gateway = build_gateway()
    async with serve(gateway.app, "uvicorn") as served:
        await run_concurrent_clients(served, gateway, clients=200, identities=20, calls=10)
    assert gateway.mcp.live_sessions() == 0  # every client closed its session (DELETE)


# --------------------------------------------------------------------------- seed 000


async def test_seed_000_header_token_wins_over_cookie_from_allowlisted_page_in_tool_handlers() -> None:
    alice, bob = bearer("alice"), bearer("bob")
    gateway = build_gateway()
    async with serve(gateway.app, "uvicorn") as served, served.http_client() as client:
        # What a fetch() from the same-origin /admin page sends along.
        page = {
            "cookie": f"jwt_token={bob}",
            "referer": served.base_url + "/admin",
            "origin": served.base_url,
            "sec-fetch-site": "same-origin",
            "sec-fetch-mode": "cors",
            "sec-fetch-dest": "empty",
        }
        # Control: from that page the cookie alone does authenticate, as bob.
        cookie_only = served.raw_session(client)
        assert (await cookie_only.initialize(token=None, headers=page)).status == 200
        as_cookie = await cookie_only.call_tool("whoami", token=None, headers=page)
        assert whoami_of(as_cookie) == {
            "sub": "bob",
            "token_source": "cookie",
            "scopes": ["tools.execute", "tools.read"],
            "context_sub": "bob",
            "access_token_sub": "bob",
        }

        both = served.raw_session(client)
        assert (await both.initialize(token=alice, headers=page)).status == 200
        as_header = await both.call_tool("whoami", token=alice, headers=page)
        assert whoami_of(as_header) == {
            "sub": "alice",
            "token_source": "header",
            "scopes": ["tools.execute", "tools.read"],
            "context_sub": "alice",
            "access_token_sub": "alice",
        }
        access = await both.call_tool("access_token_seen", token=alice, headers=page)
        assert whoami_of(access)["sha256"] == digest(alice)


# --------------------------------------------------------------------------- RFC 9728


async def test_metadata_is_served_and_advertised_in_every_challenge_of_the_mcp_endpoint(how: Transport) -> None:
    gateway = build_gateway()
    viewer = token("vera", roles=["viewer"])
    async with serve(gateway.app, how) as served, served.http_client() as client:
        for path in (METADATA_PATH, WELL_KNOWN_PATH):
            document = await client.get(served.base_url + path)
            assert document.status_code == 200
            assert document.json() == {
                "resource": AUDIENCE,
                "authorization_servers": [ISSUER],
                "scopes_supported": ["tools.read", "tools.execute"],
                "bearer_methods_supported": ["header"],
            }

        missing = await served.raw_session(client).initialize(token=None)
        invalid = await served.raw_session(client).initialize(token="not.a.jwt")
        session = served.raw_session(client)
        assert (await session.initialize(token=viewer)).status == 200
        forbidden = await session.call_tool("echo", {"text": "hi"}, token=viewer)

    advertised = f'resource_metadata="{METADATA_URL}"'
    assert (missing.status, missing.headers["www-authenticate"]) == (401, f"Bearer {advertised}")
    assert invalid.status == 401
    assert invalid.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert invalid.headers["www-authenticate"].endswith(advertised)
    assert forbidden.status == 403
    assert forbidden.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert 'scope="tools.execute:echo"' in forbidden.headers["www-authenticate"]
    assert forbidden.headers["www-authenticate"].endswith(advertised)


# --------------------------------------------------------------------------- the example server's settings


async def test_example_server_is_stateless_when_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATELESS_ENV, "true")
    gateway = build_gateway(stateless=None)
    assert gateway.mcp.stateless
    async with serve(gateway.app, "in-process") as served, served.http_client() as client:
        raw = served.raw_session(client)
        initialized = await raw.initialize(token=bearer("alice"))
        assert initialized.status == 200
        assert "mcp-session-id" not in initialized.headers
        echoed = await raw.call_tool("echo", {"text": "hi"}, token=bearer("alice"))
        assert echoed.result["structuredContent"] == {"result": "hi"}
        assert gateway.mcp.live_sessions() == 0


async def test_example_server_is_stateful_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATELESS_ENV, raising=False)
    gateway = build_gateway(stateless=None)
    assert not gateway.mcp.stateless
    async with serve(gateway.app, "in-process") as served, served.http_client() as client:
        initialized = await served.raw_session(client).initialize(token=bearer("alice"))
        assert initialized.headers["mcp-session-id"]
        assert gateway.mcp.live_sessions() == 1
