"""The wire format the checker speaks: streamable HTTP replies, JSON-RPC messages in JSON or SSE
bodies, and 2026-07-28 request envelopes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .model import Exchange

__all__ = [
    "CLIENT_INFO",
    "HANDSHAKE_VERSION",
    "MCP_ACCEPT",
    "MODERN_VERSION",
    "Reply",
    "modern_request",
    "parse_messages",
]

MCP_ACCEPT = "application/json, text/event-stream"
#: A handshake-era version: `initialize` opens a stateful session (`Mcp-Session-Id`).
HANDSHAKE_VERSION = "2025-11-25"
#: The stateless protocol: no handshake, `params._meta` and `Mcp-Method` on every request.
MODERN_VERSION = "2026-07-28"
_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO = {"name": "asgi-mcp-auth-check", "version": "1"}


@dataclass(frozen=True)
class Reply:
    """A response: status, headers, text, the JSON-RPC messages in it, and its redacted exchange."""

    status: int | None
    headers: httpx.Headers
    text: str
    messages: tuple[dict[str, Any], ...]
    exchange: Exchange

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def session_id(self) -> str | None:
        value: str | None = self.headers.get("mcp-session-id")
        return value

    @property
    def rpc(self) -> dict[str, Any] | None:
        """The (last) JSON-RPC response in the body; SSE streams may carry notifications first."""
        for message in reversed(self.messages):
            if "result" in message or "error" in message:
                return dict(message)
        return None

    @property
    def rpc_result(self) -> dict[str, Any] | None:
        """The JSON-RPC `result` when the HTTP status is 2xx and the body holds one, else None."""
        rpc = self.rpc
        if not self.ok or rpc is None or not isinstance(rpc.get("result"), dict):
            return None
        return dict(rpc["result"])

    @property
    def tool_succeeded(self) -> bool:
        """A `tools/call` answered with a result that is not an error result."""
        result = self.rpc_result
        return result is not None and not result.get("isError", False)

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def parse_messages(content_type: str, text: str) -> tuple[dict[str, Any], ...]:
    kind = content_type.partition(";")[0].strip().lower()
    found: list[Any] = []
    try:
        if kind == "application/json" and text:
            body = json.loads(text)
            found = body if isinstance(body, list) else [body]
        elif kind == "text/event-stream":
            for event in text.replace("\r\n", "\n").split("\n\n"):
                data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
                if data:
                    found.append(json.loads(data))
    except ValueError:
        return ()
    return tuple(message for message in found if isinstance(message, dict))


def modern_request(method: str, params: Mapping[str, Any] | None = None, *, request_id: int = 1) -> dict[str, Any]:
    """A 2026-07-28 request body: the envelope in `params._meta`, no handshake needed."""
    meta = {_VERSION_KEY: MODERN_VERSION, _CAPABILITIES_KEY: {}, "io.modelcontextprotocol/clientInfo": CLIENT_INFO}
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {}), "_meta": meta}}
