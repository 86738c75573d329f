"""`ISSUERS`: the authorization servers whose JWTs this resource accepts, parsed and checked.

A JSON list of `{"issuer", "audience", "jwks_url" | "public_key", "algorithms"}` objects. A
mistake is a `ConfigurationError` naming the entry, never its key material.
"""

from __future__ import annotations

import dataclasses
import json

from ..core.algorithms import PUBLIC_KEY_ALGORITHMS
from ..core.errors import ConfigurationError
from .urls import is_trusted_url

__all__ = ["IssuerConfig", "parse_issuers"]

ENV_NAME = "MCP_AUTH_ISSUERS"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IssuerConfig:
    """One entry of `ISSUERS`: an authorization server whose JWTs this resource accepts."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    jwks_url: str | None = None
    public_key: str | None = dataclasses.field(default=None, repr=False)


_ISSUER_FIELDS = frozenset({"issuer", "jwks_url", "public_key", "audience", "algorithms"})


def parse_issuers(value: str | None) -> tuple[IssuerConfig, ...]:
    """Parse `ISSUERS` (a JSON list); `ConfigurationError` names the entry at fault, never a key."""
    if value is None or not value.strip():
        return ()
    name = ENV_NAME
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        raise ConfigurationError(f"{name} is not JSON") from None
    if not isinstance(document, list):
        raise ConfigurationError(f"{name} must be a JSON list of objects")
    result: list[IssuerConfig] = []
    for number, entry in enumerate(document, start=1):
        where = f"{name} entry {number}"
        if not isinstance(entry, dict) or set(entry) - _ISSUER_FIELDS:
            raise ConfigurationError(f"{where}: an object with only {', '.join(sorted(_ISSUER_FIELDS))}")
        issuer, audience = entry.get("issuer"), entry.get("audience")
        if not isinstance(issuer, str) or not issuer or not isinstance(audience, str) or not audience:
            raise ConfigurationError(f"{where}: issuer and audience are required strings")
        algorithms = entry.get("algorithms", ["RS256"])
        if isinstance(algorithms, str):
            algorithms = [item.strip() for item in algorithms.split(",") if item.strip()]
        if not isinstance(algorithms, list) or not algorithms or not set(algorithms) <= PUBLIC_KEY_ALGORITHMS:
            raise ConfigurationError(f"{where}: algorithms must be public-key algorithms (RS*, PS*, ES*, EdDSA)")
        jwks_url, public_key = entry.get("jwks_url"), entry.get("public_key")
        if (jwks_url is None) == (public_key is None):
            raise ConfigurationError(f"{where}: set exactly one of jwks_url and public_key")
        if jwks_url is not None and not is_trusted_url(jwks_url):
            raise ConfigurationError(f"{where}: jwks_url must be an https URL (plain http only for a loopback address)")
        if public_key is not None and not isinstance(public_key, str):
            raise ConfigurationError(f"{where}: public_key must be PEM text")
        if any(item.issuer == issuer for item in result):
            raise ConfigurationError(f"{where}: issuer {issuer!r} is listed twice")
        result.append(
            IssuerConfig(
                issuer=issuer, audience=audience, algorithms=tuple(algorithms), jwks_url=jwks_url, public_key=public_key
            )
        )
    return tuple(result)
