"""Signing keys for tests: HMAC secrets and RSA / EC key pairs, with their JWKs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = ["Algorithm", "SigningKey", "make_signing_key"]

Algorithm = Literal["HS256", "RS256", "ES256"]


@dataclass(frozen=True, repr=False)
class SigningKey:
    """A fresh key: `signing_key` signs (a secret string or a private key), `public_pem` and
    `jwk` verify (both None for HMAC, whose secret is never published). `kid` names it in JWKS."""

    algorithm: Algorithm
    signing_key: Any
    kid: str
    public_pem: str | None = None
    jwk: dict[str, Any] | None = field(default=None)

    def __repr__(self) -> str:
        return f"SigningKey(algorithm={self.algorithm!r}, kid={self.kid!r})"


def make_signing_key(algorithm: Algorithm = "RS256", *, kid: str | None = None) -> SigningKey:
    """Generate a key for `algorithm`: a 64-byte HMAC secret, RSA 2048 or EC P-256."""
    kid = kid or secrets.token_hex(8)
    if algorithm == "HS256":
        return SigningKey(algorithm, secrets.token_urlsafe(48), kid)
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise ValueError(f"unsupported algorithm {algorithm!r}: HS256, RS256 or ES256")
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return SigningKey(algorithm, private, kid, pem, {**jwk, "kid": kid, "alg": algorithm, "use": "sig"})
