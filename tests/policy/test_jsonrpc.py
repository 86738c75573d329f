"""`parse_messages` reads every body as the MCP server's parser (`pydantic_core.from_json`)
does: the same messages where both can read it, a refusal where the server cannot."""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_mcp_auth.policy.jsonrpc import AmbiguousBody, parse_messages

CALL = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":%s}}'


def server_reads(body: bytes) -> list[Any] | None:
    """What the SDK's parser makes of `body`: the messages, or None when it refuses it."""
    try:
        payload = pydantic_core.from_json(body)
    except ValueError:
        return None
    return payload if isinstance(payload, list) else [payload]


def assert_agrees(body: bytes) -> None:
    try:
        ours = parse_messages(body)
    except AmbiguousBody:
        return  # refused outright (duplicate keys): nothing reaches any server
    expected = server_reads(body)
    if expected is None:
        assert ours is None
    else:
        # Compared through their JSON text: NaN is not equal to itself.
        assert json.dumps(ours, sort_keys=True) == json.dumps(expected, sort_keys=True)


EDGE_CASES = {
    "escaped method": b'{"jsonrpc":"2.0","id":1,"method":"tools\\/call","params":{"name":"\\u0065cho"}}',
    "NaN and Infinity": CALL % b'{"a":NaN,"b":Infinity,"c":-Infinity}',
    "big integer": CALL % (b'{"a":' + b"9" * 400 + b"}"),
    "integer past the digit limit": CALL % (b'{"a":' + b"9" * 5000 + b"}"),
    "float overflow": CALL % b'{"a":1e400}',
    "negative zero": CALL % b'{"a":-0.0}',
    "lone surrogate": CALL % b'{"a":"\\ud800"}',
    "surrogate pair": CALL % b'{"a":"\\ud83d\\ude00"}',
    "invalid UTF-8": CALL % b'{"a":"\xff\xfe"}',
    "overlong UTF-8": CALL % b'{"a":"\xc0\xaf"}',
    "UTF-8 BOM": b"\xef\xbb\xbf" + CALL % b"{}",
    "UTF-16": (CALL % b"{}").decode().encode("utf-16"),
    "control character in a string": CALL % b'{"a":"x\x01"}',
    "nesting 150 deep": CALL % (b"[" * 150 + b"]" * 150),
    "nesting 300 deep": CALL % (b"[" * 300 + b"]" * 300),
    "trailing comma": b'{"jsonrpc":"2.0","id":1,"method":"ping",}',
    "trailing garbage": CALL % b"{}" + b"x",
    "whitespace around": b" \r\n\t" + CALL % b"{}" + b" \n",
    "batch": b"[" + CALL % b"{}" + b"," + CALL % b"[]" + b"]",
    "empty batch": b"[]",
    "scalar": b"42",
    "empty": b"",
    "single-quoted": b"{'method':'tools/call'}",
    "key escaped to a duplicate": b'{"method":"ping","\\u006dethod":"tools/call"}',
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_are_read_as_the_server_reads_them(name: str) -> None:
    assert_agrees(EDGE_CASES[name])


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}',
        b'{"method":"ping","\\u006dethod":"tools/call"}',
        CALL % b'{"a":1,"a":2}',
    ],
)
def test_duplicate_keys_at_any_depth_are_refused(body: bytes) -> None:
    with pytest.raises(AmbiguousBody):
        parse_messages(body)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=800, deadline=None)
@given(value=JSON, ensure_ascii=st.booleans())
def test_generated_json_is_read_as_the_server_reads_it(value: Any, ensure_ascii: bool) -> None:
    assert_agrees(json.dumps(value, ensure_ascii=ensure_ascii).encode())


@settings(max_examples=800, deadline=None)
@given(
    base=st.sampled_from(sorted(EDGE_CASES.values())),
    position=st.integers(min_value=0, max_value=2_000),
    insert=st.binary(max_size=4) | st.sampled_from([b"\\", b'"', b"\\u", b"\\ud800", b",", b"}", b"]", b"\x00"]),
    delete=st.integers(min_value=0, max_value=3),
)
def test_mutated_bodies_are_read_as_the_server_reads_them(
    base: bytes, position: int, insert: bytes, delete: int
) -> None:
    at = position % (len(base) + 1)
    assert_agrees(base[:at] + insert + base[at + delete :])


def test_a_flat_and_a_nested_100_kb_body_are_read_whole() -> None:
    flat = CALL % json.dumps({"text": "x" * 100_000}).encode()
    nested = CALL % json.dumps({"items": [{"id": i, "tags": ["a", "b"]} for i in range(3_200)]}).encode()
    for body in (flat, nested):
        messages = parse_messages(body)
        assert messages is not None
        assert messages[0]["params"]["name"] == "echo"
        assert_agrees(body)
