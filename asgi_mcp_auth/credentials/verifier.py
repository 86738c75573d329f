"""The verifier protocols: what turns a credential into a `Principal`, and what finds a key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from ..core.principal import Principal
from ..policy.precedence import Credential

__all__ = ["KeyResolver", "TokenVerifier"]


@runtime_checkable
class TokenVerifier(Protocol):
    """Turns a credential into a `Principal`, or raises `AuthenticationError`."""

    async def verify(self, credential: Credential) -> Principal: ...


class KeyResolver(Protocol):
    """Finds the verification key for a token's header (a JWKS client, for example)."""

    async def key_for(self, header: Mapping[str, Any]) -> Any: ...
