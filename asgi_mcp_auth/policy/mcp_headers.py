"""SEP-2243: the MCP routing headers must say what the body says.

Protocol 2026-07-28 mirrors the JSON-RPC method in `Mcp-Method` and, for `tools/call`,
`prompts/get` (`params.name`) and `resources/read` (`params.uri`), the named object in
`Mcp-Name`, so an intermediary can route without parsing the body. This middleware authorises on
the body; a router (or a rate limiter, or an audit log) that trusts the headers must never see
another call. So, as the `mcp` SDK's own inbound check does, before the app is called:

- on a 2026-07-28 request (an `MCP-Protocol-Version` that is not a handshake-era version),
  `Mcp-Method` must equal the body's method, and `Mcp-Name` the named parameter when the body
  carries one;
- on any request, an `Mcp-Method` or `Mcp-Name` that is present must agree with the body
  (an older client has no reason to send them, and a router may read them all the same);
- a routing header sent twice is a disagreement (first-copy and last-copy readers differ).

A disagreement is `HeaderMismatch`: HTTP 400 with JSON-RPC error code -32020. `Mcp-Name`
values may be base64-wrapped as `=?base64?...?=` (the SDK's encoding for values that are not
plain printable ASCII); a malformed wrapping never matches.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ..core.errors import HeaderMismatch

__all__ = ["HANDSHAKE_PROTOCOL_VERSIONS", "NAME_PARAMETERS", "check_routing_headers", "decode_header_value"]

HANDSHAKE_PROTOCOL_VERSIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
NAME_PARAMETERS: Mapping[str, str] = MappingProxyType(
    {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
)

_METHOD = b"mcp-method"
_NAME = b"mcp-name"
_VERSION = b"mcp-protocol-version"
_ROUTING = frozenset({_METHOD, _NAME, _VERSION})
_WRAPPED = re.compile(r"=\?base64\?(?P<payload>.*)\?=", re.DOTALL)


def decode_header_value(value: str | None) -> str | None:
    """The value an `Mcp-Name` header stands for: itself, or the UTF-8 text inside a canonical
    `=?base64?...?=` wrapping; None for None or a malformed wrapping."""
    if value is None:
        return None
    wrapped = _WRAPPED.fullmatch(value)
    if wrapped is None:
        return value
    payload = wrapped.group("payload")
    try:
        decoded = base64.b64decode(payload, validate=True)
    except binascii.Error:
        return None
    if base64.b64encode(decoded).decode("ascii") != payload:
        return None  # non-canonical: two spellings of one value must not both match
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _routing_headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, value in raw_headers:
        if name in _ROUTING:
            if name in found:
                raise HeaderMismatch(f"{name.decode()} header appears more than once")
            found[name] = value.decode("latin-1")
    return found


def check_routing_headers(raw_headers: Iterable[tuple[bytes, bytes]], messages: list[Any]) -> None:
    """Raise `HeaderMismatch` unless the routing headers agree with every message of the body
    (rules in the module docstring). `raw_headers` are the ASGI scope's header pairs."""
    headers = _routing_headers(raw_headers)
    if not headers:
        return
    version = headers.get(_VERSION)
    modern = version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS
    method_header = headers.get(_METHOD)
    name_header = headers.get(_NAME)
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            continue  # responses carry no method to mirror
        method: str = message["method"]
        if (modern or method_header is not None) and method_header != method:
            raise HeaderMismatch("Mcp-Method header does not match the request body's method")
        key = NAME_PARAMETERS.get(method)
        if key is None:
            continue
        params = message.get("params")
        body_value = params.get(key) if isinstance(params, dict) else None
        if body_value is None and name_header is None:
            continue
        if (modern or name_header is not None) and decode_header_value(name_header) != body_value:
            raise HeaderMismatch(f"Mcp-Name header does not match the request body's {key!r} parameter")
