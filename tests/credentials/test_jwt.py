"""JWTVerifier: only tokens this deployment signed, for this resource, unexpired."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from tokens import (
    AUDIENCE,
    ISSUER,
    OTHER_SECRET,
    SECRET,
    b64url,
    claims,
    ec_key,
    forge,
    public_pem,
    rsa_key,
    settings,
    token,
    unsigned,
)

from asgi_mcp_auth import AuthenticationError, Credential, JWTVerifier, Principal, TokenSource
from asgi_mcp_auth.credentials.claims import ClaimsMapper

pytestmark = pytest.mark.anyio


def hs_verifier(**options: Any) -> JWTVerifier:
    return JWTVerifier.from_settings(settings(**options))


async def verify(verifier: JWTVerifier, raw: str) -> Principal:
    return await verifier.verify(Credential(raw, TokenSource.HEADER))


async def test_valid_hs256_token_maps_claims_to_a_frozen_principal() -> None:
    raw = token(
        "alice",
        iss=ISSUER,
        email="alice@example.com",
        roles=["developer"],
        teams=["team-a"],
        scope="openid tools.read",
        client_id="cli-1",
    )

    principal = await verify(hs_verifier(), raw)

    assert principal.subject == "alice"
    assert principal.issuer == ISSUER
    assert principal.email == "alice@example.com"
    assert principal.roles == frozenset({"developer"})
    assert principal.teams == frozenset({"team-a"})
    assert principal.scopes == frozenset({"openid", "tools.read"})
    assert principal.client_id == "cli-1"
    assert principal.audience == (AUDIENCE,)
    assert principal.token_source is TokenSource.HEADER
    with pytest.raises(AttributeError):
        principal.subject = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        principal.claims["sub"] = "mallory"  # type: ignore[index]


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
async def test_every_hmac_algorithm_verifies_with_the_secret(algorithm: str) -> None:
    verifier = hs_verifier(jwt_algorithms=algorithm)

    assert (await verify(verifier, token(algorithm=algorithm))).subject == "alice"


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (rsa_key, "RS256"),
        (rsa_key, "PS256"),
        (rsa_key, "RS512"),
        (ec_key, "ES256"),
    ],
)
async def test_public_key_algorithms_verify_with_a_pem_key(key: Any, algorithm: str) -> None:
    verifier = JWTVerifier.from_settings(
        settings(jwt_secret=None, jwt_public_key=public_pem(key()), jwt_algorithms=algorithm)
    )

    assert (await verify(verifier, token(key=key(), algorithm=algorithm))).subject == "alice"


async def test_eddsa_verifies_with_an_ed25519_key() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    verifier = JWTVerifier.from_settings(
        settings(jwt_secret=None, jwt_public_key=public_pem(private), jwt_algorithms="EdDSA")  # type: ignore[arg-type]
    )

    assert (await verify(verifier, token(key=private, algorithm="EdDSA"))).subject == "alice"


NESTED_HEADER = b'{"a":' * 5000 + b"1" + b"}" * 5000


def _refused_tokens() -> list[tuple[str, Any]]:
    now = int(time.time())
    return [
        ("wrong key", lambda: token(key=OTHER_SECRET)),
        ("alg none", lambda: unsigned({"alg": "none", "typ": "JWT"}, claims())),
        ("alg None", lambda: unsigned({"alg": "None", "typ": "JWT"}, claims())),
        ("alg missing", lambda: forge({"typ": "JWT"}, claims())),
        ("alg not allowed", lambda: token(algorithm="HS512")),
        ("expired beyond leeway", lambda: token(exp=now - 31, iat=now - 600)),
        ("missing exp", lambda: token(exp=...)),
        ("missing sub", lambda: jwt.encode({"aud": AUDIENCE, "exp": now + 60}, SECRET)),
        ("empty sub", lambda: token("")),
        ("sub not a string", lambda: forge({"alg": "HS256"}, {**claims(), "sub": 42})),
        ("wrong aud", lambda: token(aud="https://other.example.com/mcp")),
        ("missing aud", lambda: token(aud=...)),
        ("aud superstring", lambda: token(aud=AUDIENCE + "x")),
        ("crit header", lambda: token(headers={"crit": ["exp"], "exp": 1})),
        ("exp as list", lambda: forge({"alg": "HS256"}, {**claims(), "exp": [now + 60]})),
        ("exp as object", lambda: forge({"alg": "HS256"}, {**claims(), "exp": {"t": now + 60}})),
        ("exp as null", lambda: forge({"alg": "HS256"}, {**claims(), "exp": None})),
        ("exp as string", lambda: forge({"alg": "HS256"}, {**claims(), "exp": str(now + 60)})),
        ("iat malformed", lambda: forge({"alg": "HS256"}, {**claims(), "iat": "yesterday"})),
        ("nbf in the future", lambda: token(nbf=now + 600)),
        ("payload is a list", lambda: forge({"alg": "HS256"}, [claims()])),
        ("payload is a string", lambda: forge({"alg": "HS256"}, "alice")),
        ("header is a list", lambda: f"{b64url(b'[1]')}.{b64url(json.dumps(claims()).encode())}.c2ln"),
        ("deeply nested header", lambda: b64url(NESTED_HEADER) + ".e30.c2ln"),
        ("garbage", lambda: "abc.def.ghi"),
        ("two segments", lambda: "abc.def"),
        ("not base64", lambda: "!!!.@@@.###"),
        ("roles not a list", lambda: token(roles={"admin": True})),
        ("scope not a string", lambda: token(scope=7)),
        ("team_roles not an object", lambda: token(team_roles=["admin"])),
    ]


@pytest.mark.parametrize(("case", "make"), _refused_tokens(), ids=[case for case, _ in _refused_tokens()])
async def test_refused_tokens_raise_authentication_error_never_anything_else(case: str, make: Any) -> None:
    with pytest.raises(AuthenticationError):
        await verify(hs_verifier(), make())


async def test_hs256_token_signed_with_the_public_key_is_refused_by_an_rsa_verifier() -> None:
    pem = public_pem(rsa_key())
    verifier = JWTVerifier.from_settings(settings(jwt_secret=None, jwt_public_key=pem, jwt_algorithms="RS256"))
    confused = forge({"alg": "HS256", "typ": "JWT"}, claims(), secret=pem)

    with pytest.raises(AuthenticationError):
        await verify(verifier, confused)


async def test_expired_token_within_leeway_is_accepted() -> None:
    now = int(time.time())

    assert (await verify(hs_verifier(jwt_leeway_seconds=30), token(exp=now - 10))).subject == "alice"


async def test_issuer_is_compared_exactly() -> None:
    verifier = hs_verifier(jwt_issuer=ISSUER)

    assert (await verify(verifier, token(iss=ISSUER))).issuer == ISSUER
    for wrong in (ISSUER + "/", ISSUER.upper(), ISSUER[:-1], [ISSUER], None):
        raw = forge({"alg": "HS256"}, {**claims(), "iss": wrong}) if wrong is not None else token()
        with pytest.raises(AuthenticationError):
            await verify(verifier, raw)


async def test_audience_check_can_be_disabled_explicitly() -> None:
    verifier = hs_verifier(jwt_audience=None, jwt_verify_audience=False)

    assert (await verify(verifier, token(aud="anything"))).subject == "alice"


async def test_refusal_messages_are_generic_and_hold_no_token_or_exception_text() -> None:
    raw = token(exp=int(time.time()) - 3600)
    with pytest.raises(AuthenticationError) as caught:
        await verify(hs_verifier(), raw)

    assert caught.value.message == "Token expired"
    assert raw not in str(caught.value)


@pytest.mark.parametrize(
    ("claim", "value", "expected"),
    [
        ("scope", "openid tools.read  tools.execute", {"openid", "tools.read", "tools.execute"}),
        ("scp", ["tools.read", "prompts.read"], {"tools.read", "prompts.read"}),
        ("scp", "tools.read prompts.read", {"tools.read", "prompts.read"}),
    ],
)
def test_scopes_come_from_space_separated_scope_or_an_scp_list(claim: str, value: Any, expected: set[str]) -> None:
    principal = ClaimsMapper()({**claims(), claim: value}, TokenSource.HEADER)

    assert principal.scopes == expected


def test_roles_and_teams_claims_are_configurable() -> None:
    mapper = ClaimsMapper(roles_claim="groups", teams_claim="orgs")

    principal = mapper({**claims(), "groups": ["viewer"], "orgs": ["acme"], "roles": ["admin"]}, TokenSource.COOKIE)

    assert principal.roles == frozenset({"viewer"})
    assert principal.teams == frozenset({"acme"})
    assert "*" not in principal.permissions
    assert principal.token_source is TokenSource.COOKIE


def _respellings(raw: str) -> list[str]:
    header, payload, signature = raw.split(".")
    return [f"{raw}=", f"{header}=.{payload}.{signature}", f"{header}.{payload}==.{signature}", f"{raw}\n"]


async def test_token_malleability_regression_padded_spellings_of_a_signed_token_are_refused() -> None:
    verifier = hs_verifier()
    raw = token("alice")
    assert (await verify(verifier, raw)).subject == "alice"

    for respelled in _respellings(raw):
        with pytest.raises(AuthenticationError, match=r"^Invalid token$"):
            await verify(verifier, respelled)
