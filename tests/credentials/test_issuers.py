"""Several issuers in one app: each JWT is checked with its own issuer's keys only, and the
unverified `iss` only chooses the verifier."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from apps import RecordingApp, client
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from tokens import AUDIENCE, SECRET, ec_key, public_pem, rsa_key, token

from asgi_mcp_auth import AuthSettings, ConfigurationError, MCPAuthMiddleware
from asgi_mcp_auth.credentials.issuers import IssuerRouter, unverified_issuer

pytestmark = pytest.mark.anyio

ISSUER_A = "https://a.example.com"
ISSUER_B = "https://b.example.com"
AUDIENCE_B = "https://gw.example.com/mcp-b"


@cache
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issuers_json() -> str:
    return json.dumps(
        [
            {"issuer": ISSUER_A, "public_key": public_pem(rsa_key()), "audience": AUDIENCE, "algorithms": ["RS256"]},
            {"issuer": ISSUER_B, "public_key": public_pem(ec_key()), "audience": AUDIENCE_B, "algorithms": "ES256"},
        ]
    )


def app() -> tuple[MCPAuthMiddleware, RecordingApp]:
    inner = RecordingApp()
    return MCPAuthMiddleware(inner, settings=AuthSettings(jwt_audience=AUDIENCE, issuers=issuers_json())), inner


def signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, issuer: Any, audience: str) -> str:
    algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    return token("alice", key=key, algorithm=algorithm, iss=issuer, aud=audience)


@pytest.mark.parametrize(
    ("bearer", "status"),
    [
        (lambda: signed(rsa_key(), ISSUER_A, AUDIENCE), 200),
        (lambda: signed(ec_key(), ISSUER_B, AUDIENCE_B), 200),
        (lambda: signed(ec_key(), ISSUER_A, AUDIENCE), 401),  # B's key, claiming A
        (lambda: signed(rsa_key(), ISSUER_B, AUDIENCE_B), 401),  # A's key, claiming B
        (lambda: signed(rsa_key(), ISSUER_A, AUDIENCE_B), 401),  # A's token for B's audience
        (lambda: signed(other_rsa_key(), ISSUER_A, AUDIENCE), 401),  # nobody's key
        (lambda: signed(rsa_key(), "https://unknown.example.com", AUDIENCE), 401),
        (lambda: signed(rsa_key(), ..., AUDIENCE), 401),  # no iss at all
        (lambda: "not-a-jwt-and-no-introspection", 401),
    ],
    ids=["a", "b", "b-key-as-a", "a-key-as-b", "a-for-b-audience", "stranger", "unknown-iss", "no-iss", "opaque"],
)
async def test_each_token_is_accepted_by_its_own_issuer_and_refused_under_the_other(bearer: Any, status: int) -> None:
    middleware, inner = app()
    async with client(middleware) as http:
        response = await http.get("/whoami", headers={"Authorization": f"Bearer {bearer()}"})
    assert response.status_code == status
    assert inner.calls == (1 if status == 200 else 0)


async def test_the_principal_records_the_issuer_that_vouched_for_it() -> None:
    middleware, _ = app()
    async with client(middleware) as http:
        response = await http.get(
            "/whoami", headers={"Authorization": f"Bearer {signed(ec_key(), ISSUER_B, AUDIENCE_B)}"}
        )
    assert response.status_code == 200
    router = middleware.authenticator.verifier
    assert isinstance(router, IssuerRouter)
    assert sorted(router.issuers) == [ISSUER_A, ISSUER_B]


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        ("not json", "not JSON"),
        ('{"issuer": "x"}', "JSON list"),
        (json.dumps([{"issuer": ISSUER_A, "audience": AUDIENCE}]), "exactly one of jwks_url and public_key"),
        (json.dumps([{"issuer": ISSUER_A, "audience": AUDIENCE, "jwks_url": "ftp://x"}]), "http"),
        (json.dumps([{"issuer": ISSUER_A, "jwks_url": "https://a.example.com/jwks"}]), "audience"),
        (
            json.dumps(
                [{"issuer": ISSUER_A, "audience": AUDIENCE, "jwks_url": "https://a/j", "algorithms": ["HS256"]}]
            ),
            "public-key algorithms",
        ),
        (
            json.dumps([{"issuer": ISSUER_A, "audience": AUDIENCE, "jwks_url": "https://a/j"}] * 2),
            "listed twice",
        ),
        (json.dumps([{"issuer": ISSUER_A, "audience": AUDIENCE, "jwks_url": "https://a/j", "kid": "x"}]), "only"),
    ],
)
def test_a_malformed_issuers_list_fails_at_start_up_naming_the_entry(value: str, fault: str) -> None:
    with pytest.raises(ConfigurationError, match=fault):
        AuthSettings(jwt_audience=AUDIENCE, issuers=value)


def test_issuers_beside_a_primary_key_need_its_issuer_named() -> None:
    with pytest.raises(ConfigurationError, match="JWT_ISSUER is required"):
        AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, issuers=issuers_json())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (signed(rsa_key(), ISSUER_A, AUDIENCE), (True, ISSUER_A)),
        ("a.b.c", (False, None)),
        ("opaque", (False, None)),
        ("e30.e30.x", (True, None)),  # {} . {}
    ],
)
def test_unverified_issuer_only_reads_the_shape(value: str, expected: tuple[bool, str | None]) -> None:
    assert unverified_issuer(value) == expected
