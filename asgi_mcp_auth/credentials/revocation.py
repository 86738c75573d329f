"""Revocation: which verified tokens no longer count, decided in memory on every request.

Three kinds of revocation, each kept only as long as the tokens it covers can live:

- one token: by its `jti` (with its issuer), or by a SHA-256 of the token when it has none;
  kept until the token's `exp`;
- a subject, "sign out everywhere": every token of `(iss, sub)` issued at or before a moment
  (`iat`); kept for `max_token_lifetime` after that moment;
- a client: the same for every token of `(iss, client_id)`.

`RevocationState` is the in-memory set and its lookup; `RevocationKey` is what the lookup
needs from one identity, computed once when the token is verified, so a cached token costs
dictionary lookups and no I/O. `RevocationStore` is what the authenticator talks to;
`InMemoryRevocationStore` (one process) is the default, and `integrations.redis` shares one
state between replicas. Nothing here does I/O.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ..core.errors import AuthenticationError, ConfigurationError
from ..settings import ENV_PREFIX, AuthSettings
from .revocation_state import (
    DEFAULT_MAX_TOKEN_LIFETIME,
    Revocation,
    RevocationKey,
    RevocationState,
    revocation_key,
)

__all__ = [
    "DEFAULT_MAX_TOKEN_LIFETIME",
    "REVOKED_MESSAGE",
    "InMemoryRevocationStore",
    "Revocation",
    "RevocationKey",
    "RevocationState",
    "RevocationStore",
    "revocation_key",
    "store_from_settings",
]

REVOKED_MESSAGE = "Token revoked"

#: Entry-point group naming the shared stores `store_from_settings` can build. The store lives
#: in a higher layer (`integrations.redis`), found by name at start-up, never imported from here.
STORE_ENTRY_POINTS = "asgi_mcp_auth.revocation_stores"


@runtime_checkable
class RevocationStore(Protocol):
    """Where revocations are kept and how the authenticator asks about them.

    `check` runs on every request, cached token or not: it must answer from memory. It raises
    `AuthenticationError("Token revoked")` for a revoked token, and a store that cannot vouch for its state (a shared
    store whose backend is unreachable) raises `ServiceUnavailable` or lets the request through,
    as configured. `revoke` applies a revocation in this process at once and shares it;
    `start` / `aclose` run and stop whatever the store does in the background.
    """

    def check(self, key: RevocationKey) -> None: ...

    async def revoke(self, revocation: Revocation) -> None: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class InMemoryRevocationStore:
    """Revocations of this process only (the default): a replica does not see another's.

    For a single process, or as a local fallback. Bounded: every revocation is forgotten at
    its `until`, pruned on each `revoke`.
    """

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self.state = RevocationState(clock=clock)

    def __repr__(self) -> str:
        return f"InMemoryRevocationStore(revocations={len(self.state)})"

    def check(self, key: RevocationKey) -> None:
        if self.state.is_revoked(key):
            raise AuthenticationError(REVOKED_MESSAGE)

    async def revoke(self, revocation: Revocation) -> None:
        self.state.prune()
        self.state.add(revocation)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def store_from_settings(settings: AuthSettings | None) -> RevocationStore:
    """The store the settings ask for: shared on Redis when `REVOCATION_REDIS_URL` is set
    (needs the `redis` extra), else (and without settings) `InMemoryRevocationStore`."""
    if settings is None or settings.revocation_redis_url is None:
        return InMemoryRevocationStore()
    missing = ConfigurationError(
        f"{ENV_PREFIX}REVOCATION_REDIS_URL needs the redis extra: pip install 'asgi-mcp-auth[redis]'"
    )
    found = [ep for ep in importlib.metadata.entry_points(group=STORE_ENTRY_POINTS) if ep.name == "redis"]
    if not found:
        raise missing
    try:
        factory = found[0].load()
    except ImportError:
        raise missing from None
    store: RevocationStore = factory(settings)
    return store
