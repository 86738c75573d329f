"""Error responses: RFC 6750 challenges and JSON-RPC bodies."""

from __future__ import annotations

import json

import pytest

from asgi_mcp_auth import AuthenticationError, CredentialsMissing, CrossSiteRequest, InvalidRequest, PermissionDenied
from asgi_mcp_auth.pipeline.responses import challenge, error_response, request_id_of

METADATA = "https://gw.example.com/.well-known/oauth-protected-resource"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (CredentialsMissing(), "Bearer"),
        (AuthenticationError("Token expired"), 'Bearer error="invalid_token", error_description="Token expired"'),
        (InvalidRequest("Two tokens"), 'Bearer error="invalid_request", error_description="Two tokens"'),
        (
            PermissionDenied("tools.execute:echo"),
            'Bearer error="insufficient_scope", error_description="Permission denied: tools.execute:echo required", '
            'scope="tools.execute:echo"',
        ),
        (CrossSiteRequest(), None),
    ],
)
def test_challenge_follows_rfc_6750(error: AuthenticationError, expected: str | None) -> None:
    assert challenge(error) == expected


def test_challenge_adds_resource_metadata_when_configured() -> None:
    assert challenge(CredentialsMissing(), resource_metadata_url=METADATA) == f'Bearer resource_metadata="{METADATA}"'


def test_challenge_quotes_values_safely() -> None:
    value = challenge(AuthenticationError('bad "quote" \\ and\r\nnewline'))

    assert value == 'Bearer error="invalid_token", error_description="bad \\"quote\\" \\\\ andnewline"'


def test_cross_site_refusal_is_403_without_a_challenge() -> None:
    response = error_response(CrossSiteRequest(), jsonrpc=False)

    assert response.status_code == 403
    assert "www-authenticate" not in response.headers
    assert json.loads(bytes(response.body)) == {"detail": "Cross-site request refused"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":3,"method":"x"}', 3),
        (b'{"id":"a-1"}', "a-1"),
        (b'{"id":1.5}', 1.5),
        (b'{"id":null}', None),
        (b'{"id":[1]}', None),
        (b'[{"id":9},{"id":10}]', 9),
        (b"[]", None),
        (b"[[[[[[[[[[" * 10_000, None),
        (b"\xff\xfe", None),
        (None, None),
    ],
)
def test_request_id_is_read_only_when_it_is_a_valid_jsonrpc_id(body: bytes | None, expected: object) -> None:
    assert request_id_of(body) == expected
