"""The example gateway as an MCP client meets it: the official SDK client's `OAuthClientProvider`
logs in to the example's development authorization server over real uvicorn, headlessly (a
redirect handler that follows the authorize URL and posts the login form), then calls a tool.

JWT mode and opaque mode (RFC 7662, the middleware introspecting at the example itself); step-up
for a viewer, whom the dev server never grants `mcp:tools`, and for a developer, whom it does.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx
import httpx2
import pytest
from live_server import LiveServer
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError
from tokens import SECRET

from asgi_mcp_auth import AuthSettings
from examples.fastapi_app.authorization_server import SCOPE_PERMISSIONS, TokenFormat
from examples.fastapi_app.main import create_app
from examples.fastapi_app.users import parse_dev_users

pytestmark = pytest.mark.anyio

USERS = parse_dev_users("admin:adminpass:admin,developer:devpass:developer,viewer:viewerpass:viewer")
PASSWORDS = {"admin": "adminpass", "developer": "devpass", "viewer": "viewerpass"}
REDIRECT_URI = "http://localhost:33418/callback"  # never served: the login hands the code over itself
INTROSPECTION_SECRET = secrets.token_urlsafe(32)


def gateway_settings(base_url: str, token_format: TokenFormat) -> AuthSettings:
    values: dict[str, Any] = {
        "jwt_secret": SECRET,
        "jwt_audience": f"{base_url}/mcp",
        "scope_permissions": json.dumps(SCOPE_PERMISSIONS),
    }
    if token_format == "opaque":
        values |= {
            "introspection_url": f"{base_url}/oauth/introspect",
            "introspection_client_id": "gateway",
            "introspection_client_secret": INTROSPECTION_SECRET,
        }
    return AuthSettings(**values)


@contextlib.asynccontextmanager
async def example_gateway(token_format: TokenFormat) -> AsyncIterator[str]:
    """The example under real uvicorn on 127.0.0.1, its resource URL naming its own port."""

    def build(base_url: str) -> Any:
        return create_app(gateway_settings(base_url, token_format), dev_users=USERS, token_format=token_format)

    server = LiveServer(factory=build, timeout_graceful_shutdown=2)
    base_url = await anyio.to_thread.run_sync(server.start)
    try:
        yield base_url
    finally:
        await anyio.to_thread.run_sync(server.stop)


class _LoginForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and values.get("method") == "post":
            self.action = values.get("action")
        elif tag == "input" and values.get("name"):
            self.inputs.append(str(values["name"]))


@dataclass
class HeadlessLogin:
    """The person at the browser: opens the authorize URL, fills in the login form, and hands
    the code from the redirect to the SDK's callback handler."""

    username: str
    authorize_urls: list[str] = field(default_factory=list)
    _result: AuthorizationCodeResult | None = None

    def requested_scopes(self) -> list[str]:
        return [parse_qs(urlsplit(url).query).get("scope", [""])[0] for url in self.authorize_urls]

    async def redirect(self, authorization_url: str) -> None:
        self.authorize_urls.append(authorization_url)
        async with httpx.AsyncClient(follow_redirects=False) as http:
            page = await http.get(authorization_url)
            assert page.status_code == 200, page.text
            form = _LoginForm()
            form.feed(page.text)
            assert form.action is not None
            assert form.inputs == ["username", "password"]
            answer = await http.post(
                urljoin(authorization_url, form.action),
                data={"username": self.username, "password": PASSWORDS[self.username]},
            )
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(REDIRECT_URI + "?")
        query = parse_qs(urlsplit(location).query)
        self._result = AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])

    async def callback(self) -> AuthorizationCodeResult:
        result, self._result = self._result, None
        assert result is not None
        return result


class MemoryStorage:
    """The SDK's `TokenStorage`, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@dataclass
class Outcome:
    login: HeadlessLogin
    storage: MemoryStorage
    tools: list[str] = field(default_factory=list)
    whoami: dict[str, Any] | None = None
    echoed: str | None = None
    refused: MCPError | None = None


async def log_in_and_call(base_url: str, username: str, **metadata: Any) -> Outcome:
    """Connect the SDK client with `OAuthClientProvider` to `<base>/mcp`, list the tools (which
    needs `tools.read`), then call `whoami` and `echo` (which need `tools.execute`)."""
    login = HeadlessLogin(username)
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=f"{base_url}/mcp",
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI], client_name="headless test client", **metadata
        ),
        storage=storage,
        redirect_handler=login.redirect,
        callback_handler=login.callback,
    )
    outcome = Outcome(login, storage)
    with anyio.fail_after(60):  # a hang fails rather than blocks the run; not a speed check
        async with (
            httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30.0)) as http_client,
            streamable_http_client(f"{base_url}/mcp", http_client=http_client) as (read_stream, write_stream),
            ClientSession(read_stream, write_stream) as session,
        ):
            await session.initialize()
            outcome.tools = [tool.name for tool in (await session.list_tools()).tools]
            try:
                whoami = await session.call_tool("whoami", {})
                echo = await session.call_tool("echo", {"text": "hello"})
            except MCPError as error:
                outcome.refused = error
            else:
                assert not whoami.is_error, whoami
                assert not echo.is_error, echo
                outcome.whoami = whoami.structured_content
                outcome.echoed = echo.structured_content["result"] if echo.structured_content else None
    return outcome


@pytest.mark.slow
@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
@pytest.mark.parametrize("auth_method", ["none", "client_secret_post", "client_secret_basic"])
async def test_the_sdk_oauth_client_logs_in_to_the_example_and_calls_a_tool(
    token_format: TokenFormat, auth_method: str
) -> None:
    async with example_gateway(token_format) as base_url:
        outcome = await log_in_and_call(base_url, "developer", token_endpoint_auth_method=auth_method)

    assert outcome.refused is None
    assert outcome.tools == ["whoami", "echo", "echo_later"]
    assert outcome.echoed == "hello"
    assert outcome.whoami is not None
    assert outcome.whoami["sub"] == "developer"
    assert outcome.whoami["token_source"] == "header"
    # First the basic scope of the 401, then the step-up to the 403's scope for `echo`.
    assert outcome.login.requested_scopes() == ["mcp:read", "mcp:read mcp:tools"]
    assert outcome.storage.tokens is not None
    assert outcome.storage.tokens.scope == "mcp:read mcp:tools"
    is_jwt = outcome.storage.tokens.access_token.count(".") == 2
    assert is_jwt is (token_format == "jwt")


@pytest.mark.slow
@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
async def test_a_viewer_steps_up_and_is_refused_because_the_dev_server_never_grants_it_mcp_tools(
    token_format: TokenFormat,
) -> None:
    async with example_gateway(token_format) as base_url:
        outcome = await log_in_and_call(base_url, "viewer")
        # What the SDK client saw, by hand: the 403 names the scope that would help.
        assert outcome.storage.tokens is not None
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{base_url}/mcp",
                json={"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", "arguments": {}}},
                headers={
                    "Authorization": f"Bearer {outcome.storage.tokens.access_token}",
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": "2025-11-25",
                },
            )

    assert outcome.tools == ["whoami", "echo", "echo_later"]  # reading works
    assert outcome.whoami is None
    assert outcome.echoed is None
    assert outcome.refused is not None
    assert "tools.execute" in outcome.refused.error.message
    # It asked for mcp:tools (the challenge) and the server granted only what a viewer may have.
    assert outcome.login.requested_scopes() == ["mcp:read", "mcp:read mcp:tools"]
    assert outcome.storage.tokens.scope == "mcp:read"
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="mcp:tools"' in challenge
    assert response.json()["id"] == 7


@pytest.mark.slow
async def test_the_mcp_endpoint_is_served_at_the_advertised_resource_url_without_a_redirect() -> None:
    async with example_gateway("jwt") as base_url, httpx.AsyncClient(follow_redirects=False) as http:
        unauthenticated = await http.post(f"{base_url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        metadata = (await http.get(f"{base_url}/.well-known/oauth-protected-resource/mcp")).json()
        server_metadata = (await http.get(f"{base_url}/.well-known/oauth-authorization-server")).json()
        spoofed = await http.get(f"{base_url}/.well-known/oauth-authorization-server", headers={"Host": "evil.test"})

    assert unauthenticated.status_code == 401  # not 307
    assert (
        f'resource_metadata="{base_url}/.well-known/oauth-protected-resource/mcp"'
        in (unauthenticated.headers["www-authenticate"])
    )
    assert 'scope="mcp:read"' in unauthenticated.headers["www-authenticate"]
    assert metadata["resource"] == f"{base_url}/mcp"
    assert metadata["authorization_servers"] == [base_url]
    assert server_metadata["issuer"] == base_url
    assert server_metadata["code_challenge_methods_supported"] == ["S256"]
    assert server_metadata["authorization_endpoint"] == f"{base_url}/oauth/authorize"
    assert spoofed.json() == server_metadata  # URLs come from the configuration, never from Host
