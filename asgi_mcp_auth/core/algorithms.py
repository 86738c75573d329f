"""JWT algorithm families: which names are HMAC and which public-key, and how long an HMAC key
must be. Settings validate against them; verifiers and the JWKS client pick keys by them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["HMAC_ALGORITHMS", "HMAC_KEY_BYTES", "MIN_SECRET_BYTES", "PUBLIC_KEY_ALGORITHMS"]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES256K", "ES384", "ES512", "EdDSA"}
)
MIN_SECRET_BYTES = 32
# RFC 7518 §3.2: an HMAC key at least as long as the hash output.
HMAC_KEY_BYTES: Mapping[str, int] = MappingProxyType({"HS256": 32, "HS384": 48, "HS512": 64})
