"""The `Authenticator`'s revocation side: start its store, revoke, and check a request.

A mixin, so the authenticator stays one object (seed 000) and this part stays readable on
its own. The store is in `credentials.revocation`; what is checked per request is an
in-memory lookup (`RevocationStore.check`), whatever the store.
"""

from __future__ import annotations

from typing import Protocol

from ..core.stats import AuthStats
from ..credentials.revocation import Revocation, RevocationKey, RevocationStore

__all__ = ["RevocationLifecycle"]


class _Revocable(Protocol):
    """What `revoke` needs of an `Identity`."""

    @property
    def token(self) -> str | None: ...

    @property
    def revocation_key(self) -> RevocationKey: ...


class RevocationLifecycle:
    """Mixed into `Authenticator`, which sets `revocation` (its store) and `stats`."""

    revocation: RevocationStore
    stats: AuthStats
    _revocation_started = False  # set per instance by the first `start()`

    def invalidate(self, token: str) -> None:  # the authenticator's verified-token cache
        raise NotImplementedError

    async def start(self) -> None:
        """Start the revocation store (a shared store's subscription and poll; waits for its first
        sync, within its timeouts). Call it from the lifespan, else the first request does."""
        await self.revocation.start()
        self._revocation_started = True  # after: concurrent first requests all wait for the sync

    async def revoke(self, target: _Revocable | Revocation) -> None:
        """Revoke an `Identity`'s token (a logout) or any `Revocation` (`Revocation.of_subject`:
        sign out everywhere) for every replica sharing the store. Raises `ServiceUnavailable`
        when a shared store is unreachable (this process refuses it already)."""
        if not isinstance(target, Revocation):
            if target.token is not None:
                self.invalidate(target.token)
            target = Revocation.of_token(target.revocation_key)
        await self.revocation.revoke(target)
        self.stats.count_revocation(target.kind)

    async def _check_revocation(self, key: RevocationKey) -> None:
        # In memory, cached token or not: every replica's revocations reach this check.
        if not self._revocation_started:
            await self.start()
        self.revocation.check(key)
