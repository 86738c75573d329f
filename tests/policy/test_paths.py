"""The route path decides; MCP requests are found wherever they are mounted."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from apps import RecordingApp, client, protect, raw_scope
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from starlette._utils import get_route_path  # the oracle: the router's own rule
from starlette.applications import Starlette
from starlette.routing import Mount
from tokens import settings, token

from asgi_mcp_auth import MCPAuthMiddleware
from asgi_mcp_auth.policy.browser import BrowserPolicy, BrowserVerdict
from asgi_mcp_auth.policy.paths import PathKind, PathRules, route_path

VIEWER = token("viewer-user", roles=["viewer"])
CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
PUBLIC = ("/health", "/.well-known/oauth-protected-resource")


def rules() -> PathRules:
    return PathRules(public_paths=PUBLIC, mcp_paths=("/mcp",))


def scope_of(
    path: str, root_path: str = "", method: str = "POST", headers: list[tuple[str, str]] | None = None, query: str = ""
) -> dict[str, Any]:
    scope = raw_scope(method, path, headers)
    scope["root_path"] = root_path
    scope["query_string"] = query.encode()
    return scope


segment = st.sampled_from(["", "gw", "mcp", "health", "a", "gwx", "x y", "%2F", ".."])
paths = st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts))


@given(path=paths, root_path=st.sampled_from(["", "/gw", "/gw/", "/mcp", "/g", "/.well-known"]) | paths)
def test_route_path_is_the_path_starlettes_router_matches(path: str, root_path: str) -> None:
    scope = {"type": "http", "path": path, "root_path": root_path}

    assert route_path(scope) == get_route_path(scope)


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/health", "", PathKind(public=True, mcp=False)),
        ("/gw/health", "/gw", PathKind(public=True, mcp=False)),
        ("/health", "/gw", PathKind(public=True, mcp=False)),  # a proxy already stripped it
        ("/mcp/", "", PathKind(public=False, mcp=True)),
        ("/gw/mcp/", "/gw", PathKind(public=False, mcp=True)),
        ("/gw/MCP//x", "/gw", PathKind(public=False, mcp=True)),
        # A client-chosen root_path (Daphne-Root-Path) makes the raw path look public:
        ("/.well-known/oauth-protected-resource/mcp/", "/.well-known/oauth-protected-resource", PathKind(False, True)),
        # ...or the route path public while the raw path is an MCP path: never public either.
        ("/mcp/health", "/mcp", PathKind(public=False, mcp=True)),
        ("/gw/./health", "/gw", PathKind(public=False, mcp=False, listed=False)),
        ("/tools", "", PathKind(public=False, mcp=False, listed=False)),
    ],
)
def test_public_and_mcp_are_decided_on_the_route_path_and_the_raw_path(
    path: str, root_path: str, expected: PathKind
) -> None:
    kind = rules().classify(scope_of(path, root_path, method="GET"))

    assert (kind.public, kind.mcp) == (expected.public, expected.mcp)


@pytest.mark.parametrize(
    ("path", "headers", "query", "is_mcp"),
    [
        ("/analytics/mcp", [], "", True),
        ("/analytics/mcp/", [], "", True),
        ("/gw/analytics/MCP", [], "", True),
        ("/legacy/messages/", [], "session_id=abc", True),
        ("/legacy/messages/", [], "", False),
        ("/legacy/rpc/", [], "session_id=0123456789abcdef0123456789ABCDEF", True),  # a custom message_path
        ("/legacy/rpc/", [], "x=1&session_id=0123456789abcdef0123456789abcdef&y=2", True),
        ("/api/items", [], "session_id=abc", False),
        ("/rpc", [("Mcp-Session-Id", "abc")], "", True),
        ("/rpc", [("MCP-Protocol-Version", "2026-07-28")], "", True),
        ("/rpc", [("Mcp-Method", "tools/call")], "", True),
        ("/rpc", [("Accept", "application/json, text/event-stream")], "", True),
        ("/rpc", [("Accept", "application/json")], "", False),
        ("/api/mcpx", [], "", False),
        ("/.well-known/oauth-protected-resource/mcp", [("Mcp-Session-Id", "abc")], "", False),  # public
    ],
)
def test_mcp_requests_are_found_by_their_endpoint_shape_or_protocol_headers(
    path: str, headers: list[tuple[str, str]], query: str, is_mcp: bool
) -> None:
    public_mcp = PathRules(public_paths=(*PUBLIC, "/.well-known/oauth-protected-resource/mcp"), mcp_paths=("/mcp",))

    assert public_mcp.classify(scope_of(path, headers=headers, query=query)).mcp is is_mcp


def test_protocol_headers_only_count_on_a_post() -> None:
    assert rules().classify(scope_of("/rpc", method="GET", headers=[("Mcp-Session-Id", "abc")])).mcp is False


def test_an_unlisted_mcp_path_warns_once_per_path_naming_the_setting(caplog: pytest.LogCaptureFixture) -> None:
    checked = rules()
    with caplog.at_level(logging.WARNING, logger="asgi_mcp_auth.paths"):
        for _ in range(3):
            checked.classify(scope_of("/analytics/mcp"))
            checked.classify(scope_of("/gw/other/mcp", "/gw"))

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert all("MCP_AUTH_MCP_PATHS" in message for message in messages)
    assert "'/other/mcp'" in messages[1]


def test_warned_paths_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    checked = rules()
    with caplog.at_level(logging.WARNING, logger="asgi_mcp_auth.paths"):
        for n in range(1000):
            checked.classify(scope_of(f"/p{n}/mcp"))

    assert len(caplog.records) == 256


MCP_POST_HEADERS = {"Authorization": f"Bearer {VIEWER}", "Content-Type": "application/json"}


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:The `root_path` parameter is deprecated")  # still a layout users have
async def test_root_path_does_not_skip_method_checks_regression() -> None:
    inner = RecordingApp()
    app = FastAPI(root_path="/gw")
    app.mount("/mcp", inner)
    app.add_middleware(MCPAuthMiddleware, settings=settings())
    async with client(app) as http:
        response = await http.post("/gw/mcp/", json=CALL, headers=MCP_POST_HEADERS)

    assert response.status_code == 403
    assert inner.calls == 0


@pytest.mark.anyio
async def test_mount_prefix_does_not_skip_method_checks_regression() -> None:
    inner = RecordingApp()
    gateway = Starlette(routes=[Mount("/mcp", app=inner)])
    gateway.add_middleware(MCPAuthMiddleware, settings=settings())
    app = Starlette(routes=[Mount("/gw", app=gateway)])
    async with client(app) as http:
        response = await http.post("/gw/mcp/", json=CALL, headers=MCP_POST_HEADERS)

    assert response.status_code == 403
    assert inner.calls == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "query"), [("/analytics/mcp", ""), ("/legacy/messages/", "?session_id=0123456789abcdef")]
)
async def test_sub_path_mounts_and_the_sse_transport_are_method_checked_regression(path: str, query: str) -> None:
    inner = RecordingApp()
    async with client(protect(inner)) as http:
        response = await http.post(path + query, json=CALL, headers=MCP_POST_HEADERS)

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Permission denied: tools.execute:echo required"
    assert inner.calls == 0


@pytest.mark.anyio
async def test_client_root_path_cannot_make_an_mcp_request_public_regression() -> None:
    inner = RecordingApp()
    middleware = protect(inner)
    scope = scope_of(
        "/.well-known/oauth-protected-resource/mcp/",
        "/.well-known/oauth-protected-resource",
        headers=[("Content-Type", "application/json")],
    )
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await middleware(scope, receive, send)

    assert sent[0]["status"] == 401
    assert inner.calls == 0


NAVIGATION = [
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Site", "cross-site"),
]


@pytest.mark.parametrize(
    ("path", "raw_path", "root_path", "is_target"),
    [
        ("/gw/admin", b"/gw/admin", "/gw", True),  # server or framework root path
        ("/admin", b"/admin", "/gw", True),  # a proxy stripped the prefix
        ("/gw/oauth/callback", b"/gw/oauth/callback", "/gw", True),
        ("/gw/admin", b"/gw/admin", "", False),  # no root path: /gw/admin is not the page
        ("/gw/x/../admin", b"/gw/x/../admin", "/gw", False),
        ("/gw/admin", b"/gw/%2E%2E/admin", "/gw", False),  # the raw path shows what was encoded
    ],
)
def test_the_browser_allowlist_target_is_the_route_path(
    path: str, raw_path: bytes, root_path: str, is_target: bool
) -> None:
    scope = scope_of(path, root_path, method="GET", headers=NAVIGATION)
    scope["raw_path"] = raw_path
    policy = BrowserPolicy(origin_paths=["/admin", "/oauth/callback"], public_origin="https://gw.example.com")

    assert (policy.classify(scope) is BrowserVerdict.BROWSER) is is_target
