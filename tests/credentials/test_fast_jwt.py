"""`FastDecoder` against stock PyJWT: the same verdict on every token, and the fast way taken
for the tokens identity providers issue. PyJWT stays the verifier of record."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_mcp_auth import AuthenticationError, Credential, JWTVerifier, TokenSource
from asgi_mcp_auth.credentials import fast_jwt
from asgi_mcp_auth.credentials.fast_jwt import FastDecoder

AUDIENCE = "https://gw.example.com/mcp"
ISSUER = "https://idp.example.com"
SECRET = "fast-path-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)

# algorithm -> (signing key, verifying key)
KEYS: dict[str, tuple[Any, Any]] = {
    "HS256": (SECRET, SECRET),
    "HS384": (SECRET, SECRET),
    "RS256": (RSA_KEY, RSA_KEY.public_key()),
    "PS256": (RSA_KEY, RSA_KEY.public_key()),
    "ES256": (EC_KEY, EC_KEY.public_key()),
    "EdDSA": (ED_KEY, ED_KEY.public_key()),
}

Verdict = tuple[str, Any]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "aud": AUDIENCE, "iss": ISSUER, "iat": now - 10, "exp": now + 600, **extra}


def sign(alg: str, payload: dict[str, Any], **headers: Any) -> str:
    """Signed as given: PyJWS does not check claims, so malformed ones can be made."""
    return jwt.api_jws.PyJWS().encode(json.dumps(payload).encode(), KEYS[alg][0], alg, headers=headers or None)


def verifier(alg: str, *, fast: bool, issuer: str | None = ISSUER, audience: str | None = AUDIENCE) -> JWTVerifier:
    return JWTVerifier(
        algorithms=[alg],
        key=KEYS[alg][1],
        audience=audience,
        verify_audience=audience is not None,
        issuer=issuer,
        fast=fast,
    )


def verdict(check: JWTVerifier, token: str) -> Verdict:
    try:
        return ("accepted", check.decode(token, check.key))
    except AuthenticationError as error:
        return ("refused", error.message)


def agree(alg: str, token: str, **options: Any) -> Verdict:
    """Assert that the fast and the stock verifiers give one verdict; return it."""
    fast, stock = verifier(alg, fast=True, **options), verifier(alg, fast=False, **options)
    assert fast._fast is not None
    expected = verdict(stock, token)
    assert verdict(fast, token) == expected
    if expected[0] == "refused":
        assert fast._fast.decode(token) is None  # the fast way never accepts what PyJWT refuses
    return expected


# --------------------------------------------------------------------------- good tokens


GOOD: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("plain", claims),
    ("audience list", lambda: claims(aud=["https://other.example", AUDIENCE])),
    ("jti and roles", lambda: claims(jti="t-1", roles=["viewer"], scope="tools.read")),
    ("float times", lambda: claims(exp=time.time() + 600.5, iat=time.time() - 1.5, nbf=time.time() - 5)),
    ("unicode claims", lambda: claims(name="Zoë ✓", email="zoe@example.com")),
    ("nested claims", lambda: claims(team_roles={"a": ["developer"]}, extra={"deep": [1, {"x": None}]})),
]


@pytest.mark.parametrize("alg", sorted(KEYS))
@pytest.mark.parametrize(("name", "payload"), GOOD, ids=[name for name, _ in GOOD])
def test_good_tokens_take_the_fast_way_with_the_claims_pyjwt_returns(
    alg: str, name: str, payload: Callable[[], dict[str, Any]]
) -> None:
    token = sign(alg, payload())
    fast = verifier(alg, fast=True)
    assert fast._fast is not None
    assert fast._fast.decode(token) == jwt.decode(
        token, KEYS[alg][1], algorithms=[alg], audience=AUDIENCE, issuer=ISSUER, options={"require": ["exp", "sub"]}
    )
    assert agree(alg, token)[0] == "accepted"


def test_a_kid_header_keeps_the_fast_way() -> None:
    token = sign("RS256", claims(), kid="key-1")
    decoder = FastDecoder(algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER, leeway=30)
    parsed = decoder.parse(token)
    assert parsed is not None
    assert parsed.header["kid"] == "key-1"
    assert decoder.decode_parsed(parsed, RSA_KEY.public_key()) == jwt.decode(
        token, RSA_KEY.public_key(), algorithms=["RS256"], audience=AUDIENCE
    )
    assert decoder.decode_parsed(parsed, OTHER_RSA.public_key()) is None


# --------------------------------------------------------------------------- refusals and advisory vectors


def _replace(token: str, index: int, segment: str) -> str:
    parts = token.split(".")
    parts[index] = segment
    return ".".join(parts)


def _header(token: str, **header: Any) -> str:
    return _replace(token, 0, b64(json.dumps(header).encode()))


def _payload(token: str, payload: Any) -> str:
    return _replace(token, 1, b64(json.dumps(payload).encode()))


def _public_pem() -> bytes:
    return RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _noncanonical(token: str) -> str:
    # The same bytes, spelled with nonzero unused trailing bits (GHSA-hxm8-2xgr-2p9m's family).
    signature = token.rsplit(".", 1)[1]
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(signature[-1])
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[last | 1]


GOOD_HS = sign("HS256", claims())
REFUSED: dict[str, str] = {
    "alg none": _header(GOOD_HS, alg="none", typ="JWT").rsplit(".", 1)[0] + ".",
    "alg none, signature kept": _header(GOOD_HS, alg="none"),
    "alg not configured": sign("HS384", claims()),
    "header alg changed": _header(GOOD_HS, alg="HS512", typ="JWT"),
    "header is a list": _replace(GOOD_HS, 0, b64(b'["HS256"]')),
    "header not JSON": _replace(GOOD_HS, 0, b64(b"{alg:HS256}")),
    "kid not a string": _header(GOOD_HS, alg="HS256", kid=5),
    "crit header": sign("HS256", claims(), crit=["exp"]),
    "crit b64": sign("HS256", claims(), crit=["b64"], b64=True),
    "b64 false": sign("HS256", claims(), b64=False),
    "junk signature (GHSA-hxm8-2xgr-2p9m)": _replace(GOOD_HS, 2, "!!!!"),
    "noncanonical signature": _noncanonical(GOOD_HS),
    "padded signature (PyJWT decodes it; one token, many spellings)": GOOD_HS + "=",
    "four segments": GOOD_HS + ".e30",
    "two segments": GOOD_HS.rsplit(".", 1)[0],
    "empty signature": GOOD_HS.rsplit(".", 1)[0] + ".",
    "payload swapped": _payload(GOOD_HS, claims(sub="mallory")),
    "signed with another secret": jwt.encode(claims(), SECRET + "x", algorithm="HS256"),
    "expired": sign("HS256", claims(exp=int(time.time()) - 3600)),
    "not yet valid": sign("HS256", claims(nbf=int(time.time()) + 3600)),
    "issued in the future": sign("HS256", claims(iat=int(time.time()) + 3600)),
    "no exp": sign("HS256", {k: v for k, v in claims().items() if k != "exp"}),
    "exp null": sign("HS256", claims(exp=None)),
    "no sub": sign("HS256", {k: v for k, v in claims().items() if k != "sub"}),
    "sub a number": sign("HS256", claims(sub=42)),
    "jti a number": sign("HS256", claims(jti=7)),
    "exp a numeric string": sign("HS256", claims(exp=str(int(time.time()) + 600))),
    "exp true": sign("HS256", claims(exp=True)),
    "exp infinite": jwt.api_jws.PyJWS().encode(
        json.dumps(claims()).replace('"exp": ' + str(claims()["exp"]), '"exp": 1e400').encode(), SECRET, "HS256"
    ),
    "wrong audience": sign("HS256", claims(aud="https://elsewhere.example")),
    "audience list without ours": sign("HS256", claims(aud=["https://a.example", "https://b.example"])),
    "audience list with a number": sign("HS256", claims(aud=[AUDIENCE, 5])),
    "audience a number": sign("HS256", claims(aud=5)),
    "no audience": sign("HS256", {k: v for k, v in claims().items() if k != "aud"}),
    "wrong issuer": sign("HS256", claims(iss="https://evil.example")),
    "issuer a list": sign("HS256", claims(iss=[ISSUER])),
    "payload a list": jwt.api_jws.PyJWS().encode(b"[1, 2]", SECRET, "HS256"),
    "payload not JSON": jwt.api_jws.PyJWS().encode(b"not json", SECRET, "HS256"),
    "payload deeply nested": jwt.api_jws.PyJWS().encode(b"[" * 100_000 + b"]" * 100_000, SECRET, "HS256"),
    "non-ASCII token": GOOD_HS[:-2] + "é",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_pyjwt_advisory_vectors_and_refusals_get_the_same_verdict_as_stock_pyjwt(name: str) -> None:
    assert agree("HS256", REFUSED[name])[0] == "refused"


def test_an_rsa_public_key_used_as_hmac_secret_is_refused_by_both() -> None:
    # Key confusion (CVE-2022-29217's family): HS256 over the token, keyed with the PEM text of
    # the RSA public key the verifier holds.
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims()).encode())
    mac = hmac.new(_public_pem(), signing_input.encode(), hashlib.sha256).digest()
    assert agree("RS256", signing_input + "." + b64(mac))[0] == "refused"
    assert agree("RS256", _header(sign("RS256", claims()), alg="HS256", typ="JWT"))[0] == "refused"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(sign("HS256", claims(exp=10**400)), id="an absurd but signed expiry"),
        pytest.param(sign("HS256", claims(aud=[AUDIENCE, AUDIENCE])), id="a repeated audience"),
    ],
)
def test_unusual_tokens_pyjwt_accepts_are_accepted_alike(token: str) -> None:
    # PyJWT's verdict, whatever it is: these take PyJWT's own path or agree with it.
    assert agree("HS256", token)[0] == "accepted"


def test_audience_unchecked_when_verification_is_off_as_stock_pyjwt() -> None:
    token = sign("HS256", claims(aud="https://anything.example"))
    assert agree("HS256", token, audience=None)[0] == "accepted"


# --------------------------------------------------------------------------- fuzzed tokens

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
CLAIM_NAMES = st.sampled_from(["sub", "aud", "iss", "exp", "nbf", "iat", "jti", "scope", "roles"])


@settings(max_examples=1500, deadline=None)
@given(
    alg=st.sampled_from(["HS256", "RS256", "ES256"]),
    overrides=st.dictionaries(CLAIM_NAMES, JSON_VALUES | st.sampled_from([AUDIENCE, ISSUER, "alice"]), max_size=4),
    dropped=st.sets(CLAIM_NAMES, max_size=2),
    header=st.dictionaries(st.sampled_from(["kid", "typ", "cty", "crit", "b64", "x5u"]), JSON_VALUES, max_size=2),
)
def test_fuzzed_claims_and_headers_get_the_same_verdict_as_stock_pyjwt(
    alg: str, overrides: dict[str, Any], dropped: set[str], header: dict[str, Any]
) -> None:
    payload = {k: v for k, v in claims(**overrides).items() if k not in dropped}
    try:
        token = sign(alg, payload, **header)
    except (TypeError, ValueError, OverflowError, jwt.PyJWTError):
        return  # a header PyJWS will not sign (e.g. b64 of another type); mutations cover the rest
    agree(alg, token)


@settings(max_examples=1500, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=10_000),
    replacement=st.sampled_from(list("AZaz09-_=.+/!~ é")) | st.text(max_size=3),
    delete=st.integers(min_value=0, max_value=3),
)
def test_mutated_tokens_get_the_same_verdict_as_stock_pyjwt(position: int, replacement: str, delete: int) -> None:
    at = position % (len(GOOD_HS) + 1)
    agree("HS256", GOOD_HS[:at] + replacement + GOOD_HS[at + delete :])


# --------------------------------------------------------------------------- the guard


def test_an_unknown_pyjwt_version_leaves_every_token_to_stock_pyjwt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jwt, "__version__", "3.1.0")
    assert not fast_jwt.fast_path_available()
    check = JWTVerifier(algorithms=["HS256"], key=SECRET, audience=AUDIENCE)
    assert check._fast is None
    assert check.decode(GOOD_HS, SECRET)["sub"] == "alice"


def test_the_installed_pyjwt_is_one_the_fast_path_was_proven_against() -> None:
    # Fails when the pin in pyproject.toml admits a PyJWT this suite has not proven: widen
    # SUPPORTED_PYJWT only after this suite passes on the new version.
    assert fast_jwt.fast_path_available(), jwt.__version__


@pytest.mark.anyio
async def test_the_jwks_path_decodes_the_header_once_and_verifies_with_the_resolved_key() -> None:
    class Resolver:
        def __init__(self) -> None:
            self.headers: list[dict[str, Any]] = []

        async def key_for(self, header: Any) -> Any:
            self.headers.append(dict(header))
            return RSA_KEY.public_key()

    resolver = Resolver()
    check = JWTVerifier(algorithms=["RS256"], key_resolver=resolver, audience=AUDIENCE)
    principal = await check.verify(Credential(sign("RS256", claims(), kid="k1"), TokenSource.HEADER))
    assert principal.subject == "alice"
    assert resolver.headers == [{"alg": "RS256", "kid": "k1", "typ": "JWT"}]
    with pytest.raises(AuthenticationError):
        await check.verify(Credential(jwt.encode(claims(), OTHER_RSA, algorithm="RS256"), TokenSource.HEADER))
