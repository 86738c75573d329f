"""MCP method permissions: the middleware reads a POSTed JSON-RPC body, refuses calls the
principal may not make (the app never sees them), and hands every other body on intact."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from apps import RecordingApp, client, protect
from asgi_lifespan import LifespanManager
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_harness import RawMCPSession
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message
from tokens import settings, token

from asgi_mcp_auth import ConfigurationError, MCPAuthMiddleware
from asgi_mcp_auth.policy.mcp_methods import MethodPermissions

pytestmark = pytest.mark.anyio

Claims = dict[str, Any]
NOBODY: Claims = {"roles": []}
VIEWER: Claims = {"roles": ["viewer"]}
DEVELOPER: Claims = {"roles": ["developer"]}
ECHO_ONLY: Claims = {"roles": ["developer"], "scope": "openid tools.execute:echo"}


def rpc(method: str, params: dict[str, Any] | None = None, request_id: int | None = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        message["id"] = request_id
    if params is not None:
        message["params"] = params
    return message


def call(tool: Any, request_id: int = 1) -> dict[str, Any]:
    return rpc("tools/call", {"name": tool, "arguments": {}}, request_id)


def bearer(claims: Claims) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('alice', **claims)}", "Content-Type": "application/json"}


async def post(app: RecordingApp, claims: Claims, payload: Any, **options: Any) -> httpx.Response:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with client(protect(app, **options)) as http:
        return await http.post("/mcp/", content=content, headers=bearer(claims))


# --------------------------------------------------------------------------- the default map


@pytest.mark.parametrize(
    ("claims", "message", "needed"),
    [
        (VIEWER, rpc("tools/list"), None),
        (VIEWER, call("echo"), "tools.execute:echo"),
        (DEVELOPER, call("echo"), None),
        (ECHO_ONLY, call("echo"), None),
        (ECHO_ONLY, call("rm"), "tools.execute:rm"),
        (ECHO_ONLY, rpc("tools/list"), "tools.read"),
        ({"roles": ["admin"]}, call("rm"), None),
        ({"roles": ["admin"], "scope": "tools.*"}, call("rm"), None),
        ({"roles": ["admin"], "scope": "tools.read"}, call("rm"), "tools.execute:rm"),
        ({"team_roles": {"team-a": ["admin"]}}, call("echo"), "tools.execute:echo"),
        (VIEWER, rpc("resources/list"), None),
        (VIEWER, rpc("resources/read", {"uri": "file:///a"}), None),
        (VIEWER, rpc("resources/templates/list"), None),
        (VIEWER, rpc("prompts/list"), None),
        (VIEWER, rpc("prompts/get", {"name": "greet"}), None),
        (NOBODY, rpc("tools/list"), "tools.read"),
        (NOBODY, rpc("resources/list"), "resources.read"),
        (NOBODY, rpc("resources/read", {"uri": "file:///a"}), "resources.read"),
        (NOBODY, rpc("resources/templates/list"), "resources.read"),
        (NOBODY, rpc("prompts/list"), "prompts.read"),
        (NOBODY, rpc("prompts/get", {"name": "greet"}), "prompts.read"),
        (NOBODY, rpc("initialize", {"protocolVersion": "2025-11-25"}), None),
        (NOBODY, rpc("ping"), None),
        (NOBODY, rpc("notifications/initialized", request_id=None), None),
        (NOBODY, {"jsonrpc": "2.0", "id": 3, "result": {}}, None),
    ],
)
async def test_mcp_methods_need_the_permissions_of_the_method_table(
    claims: Claims, message: dict[str, Any], needed: str | None
) -> None:
    app = RecordingApp()
    response = await post(app, claims, message)

    if needed is None:
        assert response.status_code == 200
        assert app.calls == 1
    else:
        assert response.status_code == 403
        assert f'scope="{needed}"' in response.headers["www-authenticate"]
        assert app.calls == 0


async def test_denied_call_is_a_jsonrpc_error_echoing_the_id_with_a_scope_challenge() -> None:
    app = RecordingApp()
    response = await post(app, VIEWER, call("echo", request_id=7))

    assert response.status_code == 403
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32000, "message": "Permission denied: tools.execute:echo required"},
    }
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="Permission denied: tools.execute:echo required", '
        'scope="tools.execute:echo"'
    )
    assert app.calls == 0


@pytest.mark.parametrize(
    "params",
    [{}, {"name": None}, {"name": 5}, {"name": ""}, {"name": ["echo"]}, {"name": {"echo": 1}}, None, "echo"],
)
async def test_tools_call_without_a_string_name_needs_tools_execute_itself(params: Any) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    refused_app, allowed_app = RecordingApp(), RecordingApp()

    refused = await post(refused_app, ECHO_ONLY, message)
    allowed = await post(allowed_app, DEVELOPER, message)

    assert refused.status_code == 403
    assert 'scope="tools.execute"' in refused.headers["www-authenticate"]
    assert refused_app.calls == 0
    assert allowed.status_code == 200


@pytest.mark.parametrize("tool", ["echo:x", "echo ", "ECHO", "*", "ech*"])
async def test_tool_names_that_only_resemble_a_granted_one_are_refused(tool: str) -> None:
    app = RecordingApp()
    response = await post(app, ECHO_ONLY, call(tool))

    assert response.status_code == 403
    assert app.calls == 0


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize(
    ("batch", "status"),
    [
        ([rpc("tools/list", request_id=1), call("echo", 2)], 200),
        ([rpc("ping", request_id=1), call("echo", 2), call("rm", 3)], 403),
        ([call("rm", 4), call("echo", 5)], 403),
        ([rpc("initialize", request_id=1), rpc("notifications/initialized", request_id=None)], 200),
        ([], 200),
    ],
)
async def test_batch_is_allowed_only_when_every_entry_is(batch: list[dict[str, Any]], status: int) -> None:
    app = RecordingApp()
    response = await post(app, {"roles": ["developer"], "scope": "tools.read tools.execute:echo"}, batch)

    assert response.status_code == status
    assert app.calls == (1 if status == 200 else 0)


async def test_denied_batch_names_the_missing_permission_and_the_first_id() -> None:
    app = RecordingApp()
    response = await post(app, ECHO_ONLY, [call("echo", 10), call("rm", 11)])

    assert response.json()["id"] == 10
    assert 'scope="tools.execute:rm"' in response.headers["www-authenticate"]


# --------------------------------------------------------------------------- the body the app sees


@pytest.mark.parametrize(
    "content",
    [
        b'{ "jsonrpc" : "2.0", "id": 1,\r\n "method": "tools/call", "params": {"name": "echo", '
        b'"arguments": {"text": "h\\u00e9llo \xc3\xa9 \\ud83d\\ude00", "n": 1.50}}}  \n',
        b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]',
        b"not json at all",
        b"\xff\xfe binary \x00",
        b"",
    ],
)
async def test_app_receives_the_body_byte_for_byte(content: bytes) -> None:
    app = RecordingApp()
    response = await post(app, DEVELOPER, content)

    assert response.status_code == 200
    assert app.bodies == [content]


async def test_app_receives_a_chunked_body_byte_for_byte() -> None:
    content = json.dumps(call("echo") | {"pad": "é" * 5000}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 999):
            yield content[start : start + 999]

    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.post("/mcp/", content=chunks(), headers=bearer(DEVELOPER))

    assert response.status_code == 200
    assert app.bodies == [content]


async def test_chunked_body_of_a_denied_call_is_refused_without_calling_the_app() -> None:
    content = json.dumps(call("echo", request_id=9)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 7):
            yield content[start : start + 7]

    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.post("/mcp/", content=chunks(), headers=bearer(VIEWER))

    assert response.status_code == 403
    assert response.json()["id"] == 9
    assert app.calls == 0


async def test_body_that_is_not_json_passes_to_the_app_unchanged_even_without_permissions() -> None:
    app = RecordingApp()
    response = await post(app, NOBODY, b'{"method": "tools/call", "params": {"name": "echo"}')

    assert response.status_code == 200
    assert app.bodies == [b'{"method": "tools/call", "params": {"name": "echo"}']


@pytest.mark.parametrize(
    "content",
    [
        b'{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"rm"}}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"rm"}}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm"},"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
async def test_json_that_parsers_may_read_differently_is_refused(content: bytes) -> None:
    app = RecordingApp()
    response = await post(app, DEVELOPER, content)

    assert response.status_code == 400
    assert app.calls == 0


@pytest.mark.parametrize("chunked", [False, True])
async def test_body_larger_than_the_cap_is_refused_with_413_without_calling_the_app(chunked: bool) -> None:
    content = json.dumps(call("echo") | {"pad": "x" * 3000}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 512):
            yield content[start : start + 512]

    app = RecordingApp()
    async with client(protect(app, settings(mcp_max_body_bytes=2048))) as http:
        response = await http.post("/mcp/", content=chunks() if chunked else content, headers=bearer(DEVELOPER))

    assert response.status_code == 413
    assert response.json()["error"]["message"] == "Request body too large to authorize"
    assert "www-authenticate" not in response.headers
    assert app.calls == 0


async def test_body_at_the_cap_is_accepted() -> None:
    message = call("echo")
    content = json.dumps(message | {"pad": "x" * (2048 - len(json.dumps(message | {"pad": ""})))}).encode()
    app = RecordingApp()
    async with client(protect(app, settings(mcp_max_body_bytes=2048))) as http:
        response = await http.post("/mcp/", content=content, headers=bearer(DEVELOPER))

    assert len(content) == 2048
    assert response.status_code == 200


async def test_client_that_disconnects_mid_body_gets_no_response_and_the_app_is_not_called() -> None:
    app = RecordingApp()
    middleware = protect(app)
    incoming: list[Message] = [
        {"type": "http.request", "body": b'{"jsonrpc":"2.0","id":1,', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mcp/",
        "headers": [(b"authorization", f"Bearer {token('alice', roles=['developer'])}".encode())],
        "query_string": b"",
        "scheme": "https",
        "server": ("gw.example.com", 443),
        "root_path": "",
    }
    await middleware(scope, receive, send)

    assert sent == []
    assert app.calls == 0


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_get_and_delete_on_mcp_paths_have_no_body_check(method: str) -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.request(method, "/mcp/", content=json.dumps(call("rm")), headers=bearer(NOBODY))

    assert response.status_code == 200
    assert app.calls == 1


async def test_posts_outside_mcp_paths_have_no_body_check() -> None:
    app = RecordingApp()
    async with client(protect(app)) as http:
        response = await http.post("/api/echo", json=call("rm"), headers=bearer(NOBODY))

    assert response.status_code == 200


# --------------------------------------------------------------------------- configuring the map


async def test_method_map_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_AUTH_MCP_METHOD_PERMISSIONS", '{"ping": "admin.ping", "tools/list": null}')
    app = RecordingApp()

    ping = await post(app, VIEWER, rpc("ping"))
    tools = await post(app, NOBODY, rpc("tools/list"))
    call_refused = await post(app, VIEWER, call("echo"))

    assert ping.status_code == 403
    assert 'scope="admin.ping"' in ping.headers["www-authenticate"]
    assert tools.status_code == 200
    assert call_refused.status_code == 403


@pytest.mark.parametrize(
    ("option", "claims", "status"),
    [
        ({"tools/call": "tools.run:{name}"}, {"roles": ["developer"]}, 403),
        ({"tools/call": "tools.read"}, {"roles": ["viewer"]}, 200),
        (MethodPermissions({"tools/call": "gateways.update"}, include_defaults=False), {"roles": ["admin"]}, 200),
        # Without the defaults, tools/call is unmapped: deny by default.
        (MethodPermissions({"tools/list": "tools.read"}, include_defaults=False), {"roles": []}, 403),
        (MethodPermissions({"tools/call": None}, include_defaults=False), {"roles": []}, 200),
    ],
)
async def test_method_map_is_configured_by_the_middleware_keyword(option: Any, claims: Claims, status: int) -> None:
    app = RecordingApp()
    response = await post(app, claims, call("echo"), method_permissions=option)

    assert response.status_code == status


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"tools/call": "tools.execute:{name}",}', "invalid JSON at line 1, column 39"),
        ('["tools/call"]', "must be a JSON object"),
        ('{"tools/call": "execute"}', "method 'tools/call': 'execute' is not a permission name"),
        ('{"tools/call": "tools.execute:{name}:x"}', "method 'tools/call': {name} may only end a permission"),
        ('{"tools/list": 5}', "method 'tools/list': the permission must be a string or null"),
        ('{"": "tools.read"}', "method name '' must be a non-empty string"),
    ],
)
def test_malformed_method_map_fails_at_startup_naming_the_method(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="MCP_AUTH_MCP_METHOD_PERMISSIONS") as excinfo:
        settings(mcp_method_permissions=value)

    assert message in str(excinfo.value)


def test_malformed_method_map_keyword_fails_when_the_middleware_is_built() -> None:
    with pytest.raises(ConfigurationError, match="method 'tools/list'"):
        protect(RecordingApp(), method_permissions={"tools/list": "tools"})


# --------------------------------------------------------------------------- with the real MCP SDK


@contextlib.asynccontextmanager
async def mcp_gateway() -> AsyncIterator[RawMCPSession]:
    server = MCPServer("rbac-test")

    @server.tool()
    def echo(text: str) -> str:
        return text

    @server.tool()
    def rm(path: str) -> str:
        return f"removed {path}"

    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=["gw.example.com"])
    mcp_app = server.streamable_http_app(streamable_http_path="/", transport_security=security)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    app = MCPAuthMiddleware(Starlette(routes=[Mount("/mcp", mcp_app)], lifespan=lifespan), settings=settings())
    async with LifespanManager(app) as manager, client(manager.app) as http:
        yield RawMCPSession(http, "/mcp/")


async def test_mcp_sdk_server_runs_only_the_tools_the_token_may_call() -> None:
    echo_only = token("alice", roles=["developer"], scope="tools.execute:echo")
    async with mcp_gateway() as session:
        await session.initialize(token=echo_only)
        echoed = await session.call_tool("echo", {"text": "hi"}, token=echo_only)
        removed = await session.call_tool("rm", {"path": "/"}, token=echo_only)

    assert echoed.status == 200
    assert echoed.result["content"][0]["text"] == "hi"
    assert removed.status == 403
    assert removed.error == {"code": -32000, "message": "Permission denied: tools.execute:rm required"}
