"""SEP-2243: `Mcp-Method` and `Mcp-Name` must say what the body says, or 400 with -32020."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from apps import RecordingApp, client, protect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.shared.inbound import decode_header_value as sdk_decode_header_value
from tokens import token

from asgi_mcp_auth import HeaderMismatch
from asgi_mcp_auth.policy.mcp_headers import check_routing_headers, decode_header_value

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
# May call `echo` and read tools; may not call `rm` nor read prompts.
CALLER = token("caller", roles=["developer"], scope="tools.read tools.execute:echo")
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


def body_of(method: str, name: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"_meta": META}
    if name is not None:
        params["uri" if method == "resources/read" else "name"] = name
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]


ALLOWED = {("tools/list", None), ("tools/call", "echo")}
methods = st.sampled_from(["tools/list", "tools/call", "prompts/get", "resources/read"])
names = st.sampled_from(["echo", "rm", "Echo", "echo ", "prompt-a"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body_method=methods, header_method=methods, body_name=names, header_name=names)
async def test_a_request_passes_only_when_headers_agree_with_the_body_and_the_body_is_allowed(
    body_method: str, header_method: str, body_name: str, header_name: str
) -> None:
    named = body_method in ("tools/call", "prompts/get", "resources/read")
    body = body_of(body_method, body_name if named else None)
    headers = {
        "Authorization": f"Bearer {CALLER}",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": header_method,
    }
    if named:
        headers["Mcp-Name"] = header_name
    inner = RecordingApp()
    async with client(protect(inner)) as http:
        response = await http.post("/mcp/", json=body, headers=headers)

    agree = header_method == body_method and (not named or header_name == body_name)
    allowed = (body_method, body_name if named else None) in ALLOWED
    if not agree:
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32020
    elif not allowed:
        assert response.status_code == 403
    else:
        assert response.status_code == 200
    assert inner.calls == (1 if agree and allowed else 0)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"mcp-protocol-version": MODERN}, body_of("tools/list", None)),  # Mcp-Method missing
        ({"mcp-protocol-version": MODERN, "mcp-method": "tools/call"}, body_of("tools/call", "echo")),  # name missing
        ({"mcp-method": "tools/list"}, body_of("tools/call", "rm")),  # any protocol: a present header must agree
        ({"mcp-method": "tools/call", "mcp-name": "echo"}, body_of("tools/call", "rm")),
        ({"mcp-method": "tools/call", "mcp-name": "echo"}, body_of("tools/call", None)),  # names nothing in the body
        ({"mcp-method": "tools/call", "mcp-name": "=?base64?ZWNobw?="}, body_of("tools/call", "echo")),  # bad padding
    ],
)
def test_disagreeing_routing_headers_are_refused(headers: dict[str, str], body: dict[str, Any]) -> None:
    with pytest.raises(HeaderMismatch):
        check_routing_headers(raw(headers), [body])


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, body_of("tools/call", "rm")),  # no routing headers: nothing to disagree with
        ({"mcp-protocol-version": HANDSHAKE}, body_of("tools/call", "rm")),  # older clients send none
        ({"mcp-protocol-version": MODERN, "mcp-method": "tools/list"}, body_of("tools/list", None)),
        (
            {"mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "echo"},
            body_of("tools/call", "echo"),
        ),
        (
            {"mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "=?base64?w6ljaG8=?="},
            body_of("tools/call", "écho"),
        ),
        ({"mcp-method": "tools/call"}, {"jsonrpc": "2.0", "id": 1, "result": {}}),  # a response: no method
    ],
)
def test_agreeing_routing_headers_pass(headers: dict[str, str], body: dict[str, Any]) -> None:
    check_routing_headers(raw(headers), [body])


def test_a_routing_header_sent_twice_is_a_disagreement() -> None:
    headers = [(b"mcp-method", b"tools/list"), (b"mcp-method", b"tools/list")]

    with pytest.raises(HeaderMismatch, match="more than once"):
        check_routing_headers(headers, [body_of("tools/list", None)])


@given(
    value=st.text(max_size=20) | st.binary(max_size=20).map(lambda b: "=?base64?" + base64.b64encode(b).decode() + "?=")
)
def test_mcp_name_decoding_matches_the_sdks(value: str) -> None:
    assert decode_header_value(value) == sdk_decode_header_value(value)


async def test_mismatch_response_is_a_jsonrpc_error_echoing_the_id_with_no_challenge() -> None:
    inner = RecordingApp()
    headers = {"Authorization": f"Bearer {CALLER}", "Mcp-Method": "tools/list"}
    async with client(protect(inner)) as http:
        response = await http.post("/mcp/", content=json.dumps(body_of("tools/call", "echo")), headers=headers)

    assert response.status_code == 400
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32020, "message": "Mcp-Method header does not match the request body's method"},
    }
    assert "www-authenticate" not in response.headers
    assert inner.calls == 0
