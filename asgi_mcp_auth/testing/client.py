"""`mcp_client(app_or_url, token=...)`: the `mcp` SDK's client session against a gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from .server import serve

if TYPE_CHECKING:
    from mcp.client.session import ClientSession

__all__ = ["mcp_client"]


@contextlib.asynccontextmanager
async def mcp_client(
    target: Any,
    *,
    token: str | None = None,
    path: str = "/mcp/",
    headers: Mapping[str, str] | None = None,
    http_timeout: float = 30.0,
) -> AsyncIterator[ClientSession]:
    """An initialized SDK `ClientSession` sending `Authorization: Bearer <token>`.

    `target` is a URL (`http://127.0.0.1:8000`, the MCP endpoint is `path` below it, or the
    full endpoint URL) or an ASGI app, which is served on a free loopback port by a real
    uvicorn in this process for the life of the session (its lifespan runs, so the SDK's
    session manager does). A refused `initialize` raises the SDK's `MCPError`.
    """
    import httpx2  # the SDK's HTTP client: the [testing] extra
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    class Bearer(httpx2.Auth):
        def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
            if token is not None:
                request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async with contextlib.AsyncExitStack() as stack:
        if isinstance(target, str):
            url = target if target.rstrip("/").count("/") > 2 else target.rstrip("/") + path
        else:
            served = serve(target)
            base = await anyio.to_thread.run_sync(served.__enter__)
            # Stopped from a worker thread: uvicorn's shutdown must not block this event loop.
            stack.push_async_callback(anyio.to_thread.run_sync, lambda: served.__exit__(None, None, None))
            url = base + path
        http = await stack.enter_async_context(
            httpx2.AsyncClient(auth=Bearer(), headers=dict(headers or {}), timeout=httpx2.Timeout(http_timeout))
        )
        read, write = await stack.enter_async_context(streamable_http_client(url, http_client=http))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        yield session
