"""`TokenCache`: a bounded LRU of verified tokens.

Only successful verifications are stored. An entry lives until the earlier of the token's
`exp` (no leeway added) and the TTL, so a cached token is never accepted after it expired.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["TokenCache"]

K = TypeVar("K")
V = TypeVar("V")


class TokenCache(Generic[K, V]):
    """LRU mapping with per-entry deadlines. `maxsize=0` disables it."""

    def __init__(self, *, maxsize: int = 10_000, ttl: float = 300.0) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= time.time():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, *, expires_at: float | None) -> None:
        if self.maxsize <= 0:
            return
        deadline = time.time() + self.ttl
        if expires_at is not None:
            deadline = min(deadline, expires_at)
        self._entries[key] = (value, deadline)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
