"""Reading a JSON-RPC body exactly as the MCP server will.

The method check must see the request the server sees: a body the check reads one way and the
server another (`{"method":"ping","method":"tools/call"}`, an escape, a number, a byte that is
not UTF-8) would let a call through unchecked. The `mcp` SDK parses bodies with
`pydantic_core.from_json`; this module parses with `jiter`, the same Rust parser, asking it to
refuse duplicate keys, and where jiter refuses a body for any other reason asks
`pydantic_core.from_json` itself, so a body the server can read is never waved through as "not
JSON". `tests/policy/test_jsonrpc.py` proves the agreement on escapes, NaN, big numbers, deep
nesting, invalid UTF-8 and fuzzed bodies.

Both parsers run in C and in time linear in the body, whatever its nesting (the server's
parser refuses nesting deeper than it reads, and so does this one).
"""

from __future__ import annotations

from typing import Any

import jiter
import pydantic_core

from ..core.errors import InvalidRequest

__all__ = ["AmbiguousBody", "UnreadableBody", "parse_messages"]


class AmbiguousBody(InvalidRequest):
    default_message = "Ambiguous JSON-RPC body"


class UnreadableBody(InvalidRequest):
    """A POST to an MCP endpoint whose body the server's parser cannot read. Refused, not waved
    through: a gateway may hand the body to a server whose parser reads more (deeper nesting,
    lone surrogates, a byte-order mark), and that server would then run a call nobody checked."""

    error_code = None  # no credential would change the answer: no challenge
    jsonrpc_code = -32700  # JSON-RPC "Parse error"
    default_message = "Parse error: the body is not JSON an MCP server can read"


def parse_messages(body: bytes) -> list[Any] | None:
    """The JSON-RPC messages of a body (a batch's entries, or the one message); None when the
    server's parser cannot read it either (the middleware refuses it: `UnreadableBody`).

    Raises `AmbiguousBody` (400) for duplicate keys: parsers disagree on which one wins, and a
    gateway may hand the body to a server that is not this SDK.
    """
    try:
        payload = jiter.from_json(body, catch_duplicate_keys=True, cache_mode="keys")
    except ValueError:
        payload = _second_opinion(body)
        if payload is None:
            return None
    return payload if isinstance(payload, list) else [payload]


def _second_opinion(body: bytes) -> Any:
    """Why jiter refused: duplicate keys (refused here), or what the server's parser says."""
    try:
        jiter.from_json(body, cache_mode="keys")
    except ValueError:
        pass
    else:
        raise AmbiguousBody("Ambiguous JSON-RPC body: duplicate key")
    try:
        return pydantic_core.from_json(body)
    except ValueError:
        return None
