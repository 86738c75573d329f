"""Bound state across two replicas, with the real SDK client: the MCP SDK's sealed
`requestState` (protocol 2026-07-28) and stateful sessions (handshake protocols).

Both replicas share the signing key and `EXAMPLE_REQUEST_STATE_KEY`. The SDK binds sealed state
and sessions to `(client_id, iss, sub)` of the `AccessToken` this middleware sets, so what holds
here is what the middleware puts there. SDK 2.3 keeps stateful sessions in process memory and
serves no `tasks/*` methods, so a session lives on the replica that opened it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import httpx2
import mcp_types
import pytest
from apps import INITIALIZE, MCP_HEADERS
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from tokens import AUDIENCE, SECRET, token

from examples.replicas import Replica, replica_environment

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"


@pytest.fixture(scope="module")
def two_replicas() -> Iterator[tuple[str, str]]:
    env = replica_environment(None, secret=SECRET, audience=AUDIENCE)
    started = [Replica(env).launch() for _ in range(2)]
    try:
        for replica in started:
            replica.wait_ready()
        yield started[0].url, started[1].url
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextlib.asynccontextmanager
async def modern_client(base_url: str, bearer: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=30)
    async with http, Client(streamable_http_client(f"{base_url}/mcp/", http_client=http), mode=MODERN) as client:
        await client.list_tools()  # the SDK checks tool calls against the listing
        yield client


async def first_round(base_url: str, bearer: str) -> mcp_types.InputRequiredResult:
    async with modern_client(base_url, bearer) as client:
        result = await client.session.call_tool("echo_later", {"text": "hello"}, allow_input_required=True)
    assert isinstance(result, mcp_types.InputRequiredResult)
    assert result.request_state is not None
    assert "hello" not in result.request_state  # sealed: encrypted, not just signed
    return result


async def second_round(base_url: str, bearer: str, state: str) -> object:
    """The retry's result, or the `MCPError` it raised (caught inside the client's task group,
    which would otherwise wrap it)."""
    async with modern_client(base_url, bearer) as client:
        try:
            return await client.session.call_tool(
                "echo_later", {"text": "hello"}, request_state=state, allow_input_required=True
            )
        except MCPError as exc:
            return exc


ALICE = token("alice", roles=["developer"])
BOB = token("bob", roles=["developer"])
ALICE_AGAIN = token("alice", roles=["developer"], jti="refreshed")  # a refreshed token of the same principal


@pytest.mark.parametrize("bearer", [ALICE, ALICE_AGAIN], ids=["same-token", "refreshed-token"])
async def test_request_state_minted_for_a_user_on_one_replica_is_accepted_for_them_on_another(
    two_replicas: tuple[str, str], bearer: str
) -> None:
    first, second = two_replicas
    state = (await first_round(first, ALICE)).request_state
    assert state is not None
    result = await second_round(second, bearer, state)
    assert isinstance(result, mcp_types.CallToolResult)
    assert result.structured_content == {"result": "hello"}


async def test_request_state_minted_for_one_user_is_refused_for_another_on_any_replica(
    two_replicas: tuple[str, str],
) -> None:
    first, second = two_replicas
    state = (await first_round(first, ALICE)).request_state
    assert state is not None
    for base_url in (first, second):
        refused = await second_round(base_url, BOB, state)
        assert isinstance(refused, MCPError)
        assert refused.error.message == "Invalid or expired requestState"


async def test_a_session_of_one_user_is_a_404_for_another_and_unknown_on_the_other_replica(
    two_replicas: tuple[str, str],
) -> None:
    first, second = two_replicas
    headers = dict(MCP_HEADERS)
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    async with httpx.AsyncClient(timeout=30) as http:
        opened = await http.post(
            f"{first}/mcp/", json=INITIALIZE, headers={**headers, "Authorization": f"Bearer {ALICE}"}
        )
        assert opened.status_code == 200
        session = opened.headers["mcp-session-id"]

        async def listing_as(base_url: str, bearer: str) -> httpx.Response:
            return await http.post(
                f"{base_url}/mcp/",
                json=listing,
                headers={**headers, "Authorization": f"Bearer {bearer}", "mcp-session-id": session},
            )

        assert (await listing_as(first, ALICE_AGAIN)).status_code == 200  # same principal, refreshed token
        assert (await listing_as(first, BOB)).status_code == 404  # same answer as an unknown session
        # Sessions are per process in SDK 2.3: on the other replica nobody reaches it.
        assert (await listing_as(second, ALICE)).status_code == 404
        assert (await listing_as(second, BOB)).status_code == 404
