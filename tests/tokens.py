"""Keys, tokens and settings shared by the tests (real keys, generated per session)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from asgi_mcp_auth import AuthSettings, Principal, RBACPolicy

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-ABCD"
OTHER_SECRET = "another-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-AB"
AUDIENCE = "https://gw.example.com/mcp"
ISSUER = "https://idp.example.com"


def settings(**overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {"jwt_secret": SECRET, "jwt_audience": AUDIENCE}
    values.update(overrides)
    return AuthSettings(**values)


def claims(sub: str = "alice", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {"sub": sub, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    values.update(extra)
    return {key: value for key, value in values.items() if value is not ...}


def token(
    sub: str = "alice",
    *,
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
    **extra: Any,
) -> str:
    """A signed token; pass `claim=...` (Ellipsis) to leave a default claim out."""
    return jwt.encode(claims(sub, **extra), key, algorithm=algorithm, headers=headers)


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: Any, secret: str = SECRET) -> str:
    """A token with ANY header and payload, HMAC-SHA256-signed with `secret` (PyJWT refuses to build some)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(header: dict[str, Any], payload: Any) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}."


def bearer(**claims: Any) -> dict[str, str]:
    """An `Authorization` header with a token for alice carrying `claims`."""
    return {"Authorization": f"Bearer {token('alice', **claims)}"}


def bound(
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    team_roles: Mapping[str, Iterable[str]] | None = None,
    policy: RBACPolicy | None = None,
) -> Principal:
    """Alice with these roles, scopes and team roles, her permissions computed by `policy`."""
    principal = Principal(
        subject="alice",
        roles=frozenset(roles),
        scopes=frozenset(scopes),
        team_roles={team: frozenset(r) for team, r in (team_roles or {}).items()},
    )
    return (policy or RBACPolicy()).bind(principal)
