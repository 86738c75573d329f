"""Server-sent events stay streaming through the middleware: it never buffers a response.

The app sends event 1, then waits until the client has received it; only then does it send
event 2 and end the stream. A middleware that buffered the response would hold event 1 back
until the stream ended, and the client would see the stream end before it could release it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from live_server import LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from tokens import settings, token

from asgi_mcp_auth import MCPAuthMiddleware, principal_from

RELEASE_TIMEOUT = 10.0  # only reached when the test fails: the first event never arrived


class TwoEventStream:
    """An SSE endpoint whose second event waits for `released`, set by the test."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.finished = threading.Event()

    async def endpoint(self, request: Request) -> StreamingResponse:
        principal = principal_from(request)
        subject = principal.subject if principal else "anonymous"

        async def events() -> AsyncIterator[str]:
            try:
                yield f"event: first\ndata: {subject}\n\n"
                released = await anyio.to_thread.run_sync(self.released.wait, RELEASE_TIMEOUT)
                yield f"event: second\ndata: {'released' if released else 'timed out'}\n\n"
            finally:
                self.finished.set()

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/events", None),
        ("POST", "/mcp/events", b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'),
    ],
    ids=["sse-route", "mcp-endpoint-after-body-check"],
)
def test_the_first_server_sent_event_reaches_the_client_before_the_stream_ends(
    method: str, path: str, body: bytes | None
) -> None:
    stream = TwoEventStream()
    app = Starlette(routes=[Route(path, stream.endpoint, methods=[method])])
    app.add_middleware(MCPAuthMiddleware, settings=settings())
    headers = {"Authorization": f"Bearer {token('alice', roles=['viewer'])}", "Accept": "text/event-stream"}

    with (
        LiveServer(app) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
        client.stream(method, path, headers=headers, content=body) as response,
    ):
        lines = response.iter_lines()
        first = [next(lines), next(lines)]
        stream_ended_before_first_event = stream.finished.is_set()
        stream.released.set()
        rest = [line for line in lines if line]

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert first == ["event: first", "data: alice"]
    assert not stream_ended_before_first_event
    assert rest == ["event: second", "data: released"]
