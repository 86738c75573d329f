"""Test helpers (not a test module): a real uvicorn server and real MCP clients.

- `live_server(app)`: `LiveServer` (real uvicorn on 127.0.0.1) as an async context manager
  yielding the base URL; sync tests use `LiveServer` itself.
- `call_tool_once(url, token, name, args)`: the SDK client (`streamable_http_client` +
  `ClientSession`), one fresh session, one `tools/call`.
- `sdk_session(url, token)`: an initialized SDK `ClientSession` plus a `SwitchableBearer`
  whose `.token` may be changed between calls: every later HTTP request of that SAME session
  carries the new `Authorization` header.
- `RawMCPSession`: the same protocol over plain httpx, exposing status codes and headers
  (use it to assert 401/403/404/421 responses, which the SDK client turns into errors).

The SDK client runs on `httpx2` (a separate package the SDK depends on), not on `httpx`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types
from live_server import LiveServer
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp

__all__ = [
    "MCP_ACCEPT",
    "RawMCPSession",
    "RawResponse",
    "SwitchableBearer",
    "ToolOutcome",
    "call_tool_once",
    "live_server",
    "outcome_of",
    "sdk_session",
]

#: Streamable HTTP POSTs must accept both, or the SDK answers 406.
MCP_ACCEPT = "application/json, text/event-stream"
#: A handshake-era protocol version: these use the stateful, session-id path.
HANDSHAKE_VERSION = "2025-11-25"


# --------------------------------------------------------------------------- uvicorn


@contextlib.asynccontextmanager
async def live_server(app: ASGIApp, **config: Any) -> AsyncIterator[str]:
    """`LiveServer` for async tests: real uvicorn on 127.0.0.1 (its own thread and event loop),
    started and stopped in a worker thread so the test's loop is never blocked. Yields the base URL.

    Open SSE streams (the client's standalone GET) must not hold shutdown for long, hence the
    short graceful-shutdown timeout.
    """
    config.setdefault("timeout_graceful_shutdown", 2)
    server = LiveServer(app, **config)
    url = await anyio.to_thread.run_sync(server.start)
    try:
        yield url
    finally:
        await anyio.to_thread.run_sync(server.stop)


# --------------------------------------------------------------------------- SDK client


@dataclass(frozen=True)
class ToolOutcome:
    """What a `tools/call` returned: structured content (if any), the text parts, the error flag."""

    structured: Any
    text: str
    is_error: bool


def outcome_of(result: mcp_types.CallToolResult) -> ToolOutcome:
    texts = [part.text for part in result.content if isinstance(part, mcp_types.TextContent)]
    return ToolOutcome(structured=result.structured_content, text="".join(texts), is_error=bool(result.is_error))


class SwitchableBearer(httpx2.Auth):
    """An httpx2 auth whose token may change between requests of one client (and one MCP session).

    `None` sends no Authorization header at all.
    """

    def __init__(self, token: str | None) -> None:
        self.token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        if self.token is not None:
            request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


@contextlib.asynccontextmanager
async def sdk_session(
    url: str,
    token: str | None,
    *,
    extra_headers: Mapping[str, str] | None = None,
    http_timeout: float = 30.0,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncGenerator[tuple[ClientSession, SwitchableBearer], None]:
    """An initialized SDK `ClientSession` (stateful, handshake era) against `url` (e.g. `<base>/mcp/`).

    Headers: pass a pre-configured `httpx2.AsyncClient` to `streamable_http_client(...,
    http_client=...)`; that is the SDK's only way. Per-request changes go through the client's
    auth (here `SwitchableBearer`) or by mutating `http_client.headers`. `transport` replaces
    the network, e.g. `in_process_transport(app)`.
    """
    auth = SwitchableBearer(token)
    refused: MCPError | None = None
    async with (
        httpx2.AsyncClient(
            auth=auth,
            headers=dict(extra_headers or {}),
            timeout=httpx2.Timeout(http_timeout, read=http_timeout),
            transport=transport,
        ) as http_client,
        streamable_http_client(url, http_client=http_client) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        try:
            await session.initialize()
        except MCPError as exc:
            # Raised after the task groups have closed, so the caller sees a plain MCPError
            # rather than an ExceptionGroup.
            refused = exc
        else:
            yield session, auth
    if refused is not None:
        raise refused


async def call_tool_once(
    url: str,
    token: str | None,
    name: str,
    arguments: dict[str, Any] | None = None,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> ToolOutcome:
    """Open a session with `Authorization: Bearer <token>`, call one tool, close the session.

    A refusal (HTTP 4xx/5xx) raises `MCPError`: with the server's JSON-RPC error when the body
    is one (content-type application/json), else code -32603 "Server returned an error
    response" (404 after a session exists: -32600 "Session terminated").
    """
    refused: MCPError | None = None
    async with sdk_session(url, token, transport=transport) as (session, _auth):
        try:
            return outcome_of(await session.call_tool(name, arguments or {}))
        except MCPError as exc:
            refused = exc
    assert refused is not None  # the body either returned or caught an MCPError
    raise refused


# --------------------------------------------------------------------------- raw httpx


@dataclass
class RawResponse:
    status: int
    headers: httpx.Headers
    messages: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""

    @property
    def response(self) -> dict[str, Any]:
        """The (last) JSON-RPC response object in the body (SSE streams may hold notifications first)."""
        for message in reversed(self.messages):
            if "result" in message or "error" in message:
                return dict(message)
        raise KeyError(f"no JSON-RPC response in the body (HTTP {self.status}): {self.text[:200]!r}")

    @property
    def result(self) -> dict[str, Any]:
        """The JSON-RPC `result`; KeyError if the response is an error."""
        return dict(self.response["result"])

    @property
    def error(self) -> dict[str, Any] | None:
        """The JSON-RPC `error`, or None."""
        error = self.response.get("error")
        return dict(error) if error is not None else None


def _parse_body(response: httpx.Response) -> list[dict[str, Any]]:
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not response.content:
        return []
    if content_type == "application/json":
        body: Any = response.json()
        return list(body) if isinstance(body, list) else [dict(body)]
    if content_type == "text/event-stream":
        messages: list[dict[str, Any]] = []
        for event in response.text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
            if data:
                messages.append(json.loads(data))
        return messages
    return []


class RawMCPSession:
    """The streamable HTTP protocol by hand over `httpx`, for asserting status codes.

    `initialize()` stores the `mcp-session-id`; every later call may carry different headers.
    """

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url
        self.session_id: str | None = None
        self._next_id = 0

    async def post(
        self, payload: dict[str, Any], *, token: str | None, headers: Mapping[str, str] | None = None
    ) -> RawResponse:
        sent = {
            "accept": MCP_ACCEPT,
            "content-type": "application/json",
            "mcp-protocol-version": HANDSHAKE_VERSION,
        }
        if self.session_id is not None:
            sent["mcp-session-id"] = self.session_id
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        response = await self.client.post(self.url, json=payload, headers=sent)
        return RawResponse(response.status_code, response.headers, _parse_body(response), response.text)

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def initialize(self, *, token: str | None, headers: Mapping[str, str] | None = None) -> RawResponse:
        """`initialize` then `notifications/initialized`; keeps the session id on success."""
        response = await self.post(
            {
                "jsonrpc": "2.0",
                "id": self._id(),
                "method": "initialize",
                "params": {
                    "protocolVersion": HANDSHAKE_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test-client", "version": "0"},
                },
            },
            token=token,
            headers=headers,
        )
        if response.status == 200:
            self.session_id = response.headers.get("mcp-session-id")
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await self.post(initialized, token=token, headers=headers)
        return response

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        token: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> RawResponse:
        payload = {
            "jsonrpc": "2.0",
            "id": self._id(),
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments or {}},
        }
        return await self.post(payload, token=token, headers=headers)

    async def delete(self, *, token: str | None) -> int:
        sent = {"mcp-protocol-version": HANDSHAKE_VERSION}
        if self.session_id is not None:
            sent["mcp-session-id"] = self.session_id
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        return (await self.client.delete(self.url, headers=sent)).status_code
