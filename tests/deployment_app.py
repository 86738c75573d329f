"""Test helper (not a test module): one ASGI app holding every deployment layout, for real servers.

`python -m uvicorn deployment_app:app` (or hypercorn, daphne, granian) serves it; the `X-Layout`
request header picks the layout, which is a real Starlette/FastAPI composition with
`MCPAuthMiddleware` where a user would add it:

- `plain`:   FastAPI() with the middleware; MCP mounted at `/mcp`, at `/analytics` (endpoint
             `/analytics/mcp`, as FastMCP documents), and the SSE transport at `/legacy`
- `fastapi`: the same app built as FastAPI(root_path="/gw")
- `mount`:   Starlette(routes=[Mount("/gw", app=<the plain app>)])

A server started with a root path (`--root-path /gw`, granian's `--url-path-prefix /gw`) adds the
fourth layout around `plain`. The dispatcher reads only the header, never changes `path` or
`root_path`, so each layout sees exactly the scope its server and framework build.

Daphne runs no lifespan, so the MCP session managers are started on the first request (and
kept running) instead: the same code path under every server.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send
from tokens import settings

from asgi_mcp_auth import MCPAuthMiddleware

__all__ = ["LAYOUT_HEADER", "LAYOUT_PREFIXES", "app"]

LAYOUT_HEADER = "x-layout"
#: The URL prefix a client uses to reach each layout (the server root path is added by the test).
LAYOUT_PREFIXES = {"plain": "", "fastapi": "/gw", "mount": "/gw"}

# Hosts differ between servers and layouts; host checks are not what these tests are about.
_OPEN = TransportSecuritySettings(enable_dns_rebinding_protection=False)


def _mcp_server() -> MCPServer:
    server = MCPServer("deployment")

    @server.tool()
    def echo(text: str) -> str:
        return text

    return server


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _gateway(managers: list[Any], **fastapi_options: Any) -> FastAPI:
    root_server, analytics_server = _mcp_server(), _mcp_server()
    root = root_server.streamable_http_app(
        streamable_http_path="/", stateless_http=True, json_response=True, transport_security=_OPEN
    )
    analytics = analytics_server.streamable_http_app(stateless_http=True, json_response=True, transport_security=_OPEN)
    managers.extend([root_server.session_manager, analytics_server.session_manager])
    legacy = _mcp_server().sse_app(transport_security=_OPEN)
    gateway = FastAPI(
        routes=[
            Route("/health", _health),
            Mount("/mcp", app=root),
            Mount("/analytics", app=analytics),
            Mount("/legacy", app=legacy),
        ],
        **fastapi_options,
    )
    gateway.add_middleware(MCPAuthMiddleware, settings=settings())
    return gateway


class Layouts:
    """Dispatches on the `X-Layout` header; starts the MCP session managers once, lazily."""

    def __init__(self) -> None:
        self._managers: list[Any] = []
        plain = _gateway(self._managers)
        self.layouts: dict[str, Any] = {
            "plain": plain,
            "fastapi": _gateway(self._managers, root_path="/gw"),
            "mount": Starlette(routes=[Mount("/gw", app=_gateway(self._managers))]),
        }
        self._started: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None

    async def _run_managers(self, started: asyncio.Event) -> None:
        async with contextlib.AsyncExitStack() as stack:
            for manager in self._managers:
                await stack.enter_async_context(manager.run())
            started.set()
            await asyncio.Event().wait()  # until the server's loop ends

    async def _ensure_started(self) -> None:
        if self._started is None:
            self._started = asyncio.Event()
            self._runner = asyncio.create_task(self._run_managers(self._started))
        await self._started.wait()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self._ensure_started()
        layout = dict(scope.get("headers", [])).get(LAYOUT_HEADER.encode(), b"plain").decode()
        await self.layouts.get(layout, self.layouts["plain"])(scope, receive, send)


app = Layouts()
