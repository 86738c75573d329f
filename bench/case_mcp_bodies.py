"""Case 5: the MCP POST path. A known token, a JSON-RPC body of each shape, through the
middleware's method check into an app that reads the body; next to a GET with the same token and
to the server's own parse of the same body (`pydantic_core.from_json`, which the SDK uses).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

import pydantic_core
from harness import AUDIENCE, SCOPE, SECRET, Plan, Variant, make_token, measure_all
from starlette.types import Message, Receive, Scope, Send

from asgi_mcp_auth import AuthSettings, MCPAuthMiddleware


def tools_call(arguments: object) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": arguments}}
    ).encode()


SHAPES: dict[str, bytes] = {
    "small tools/call": tools_call({"text": "hello"}),
    "100 KB flat string": tools_call({"text": "x" * 100_000}),
    "100 KB nested (3 200 objects)": tools_call({"items": [{"id": i, "tags": ["a", "b"]} for i in range(3_200)]}),
}


async def draining_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body (as a server would), answers 200."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def discard(message: Message) -> None:
    return None


def request(
    app: MCPAuthMiddleware, method: str, path: str, body: bytes, token: str
) -> Callable[[int], Awaitable[float]]:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", b"Bearer " + token.encode()),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json, text/event-stream"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {**SCOPE, "method": method, "path": path, "raw_path": path.encode(), "headers": headers}

    async def run(count: int) -> float:
        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        start = time.perf_counter()
        for _ in range(count):
            await app(dict(scope), receive, discard)
        return (time.perf_counter() - start) / count

    return run


def server_parse(body: bytes) -> Callable[[int], Awaitable[float]]:
    async def run(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            pydantic_core.from_json(body)
        return (time.perf_counter() - start) / count

    return run


async def mcp_bodies_section(quick: bool) -> None:
    repeats = 3 if quick else 5
    token = make_token("alice", roles=["admin"])
    app = MCPAuthMiddleware(draining_app, settings=AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE))
    print("\n## 5. The MCP POST path: a known token, the method check, per body shape")
    print(f"(min over {repeats} repeats of the median over batches; 'check' = POST /mcp/ minus GET, same token)\n")
    columns = f"{'POST /mcp/':>12s} {'GET':>10s} {'check':>11s} {'server parse':>13s} {'check/parse':>12s}"
    print(f"{'body':32s} {'bytes':>8s} {columns}")
    for name, body in SHAPES.items():
        small = len(body) < 1_000
        plan = Plan(batch=5_000, batches=5) if small else Plan(batch=100 if quick else 300, batches=5)
        variants = [
            Variant("post", plan, request(app, "POST", "/mcp/", body, token)),
            Variant("get", plan, request(app, "GET", "/whoami", b"", token)),
            Variant("parse", plan, server_parse(body)),
        ]
        results = await measure_all(variants, repeats)
        check = results["post"] - results["get"]
        print(
            f"{name:32s} {len(body):8,d} {results['post'] * 1e6:9.1f} us {results['get'] * 1e6:7.1f} us"
            f" {check * 1e6:8.1f} us {results['parse'] * 1e6:10.1f} us {check / results['parse']:12.2f}"
        )
    print("\ngoals (issue: closer to the floor): small check <= 1 us; 100 KB check/parse <= 1.5")
