"""Inner apps for middleware tests: they record every call and echo the identity they saw."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from asgi_mcp_auth import AuthSettings, MCPAuthMiddleware, current_principal, principal_from


class RecordingApp:
    """Answers 200 with the identity seen three ways; counts calls; keeps the last body."""

    def __init__(self) -> None:
        self.calls = 0
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.calls += 1
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            principal = principal_from(scope)
            await send({"type": "websocket.send", "text": principal.subject if principal else ""})
            await send({"type": "websocket.close", "code": 1000})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        principal = principal_from(scope)
        current = current_principal()
        payload = {
            "sub": principal.subject if principal else None,
            "context_sub": current.subject if current else None,
            "token_source": principal.token_source.value if principal else None,
            "user": type(scope["user"]).__name__,
            "user_is_authenticated": scope["user"].is_authenticated,
            "auth_scopes": sorted(scope["auth"].scopes),
        }
        data = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})


def raw_scope(
    method: str = "GET", path: str = "/tools", headers: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """An HTTP scope as a server would build it; header names lower-cased, values latin-1."""
    return {
        "type": "http",
        "method": method,
        "path": path,
        "scheme": "https",
        "query_string": b"",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1", "replace")) for name, value in headers or []
        ],
    }


INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def protect(app: ASGIApp, settings: AuthSettings | None = None, **options: Any) -> MCPAuthMiddleware:
    from tokens import settings as default_settings

    return MCPAuthMiddleware(app, settings=settings or default_settings(), **options)


def client(app: ASGIApp, base_url: str = "https://gw.example.com") -> httpx.AsyncClient:
    """An in-process client; the default origin is the one tests' Referers name."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
