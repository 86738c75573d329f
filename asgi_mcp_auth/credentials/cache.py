"""`TokenCache`: a bounded LRU of verified tokens.

Only successful verifications are stored (the caller decides; this class never sees a
refusal). An entry lives until the earlier of the token's `exp` (no leeway added) and the
TTL, so a cache hit is never served for a token whose `exp` has passed: from then on the token
is verified again, and refused or accepted exactly as without a cache.

`hits` and `evictions` count lookups that found a live entry and entries dropped to keep the
bound; `misses` is counted by the owner, once per credential it had to verify (an expired
entry is a miss), since one request may look a credential up more than once: plain integers,
read by the metrics exporters.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["TokenCache"]

K = TypeVar("K")
V = TypeVar("V")


class TokenCache(Generic[K, V]):
    """LRU mapping with per-entry deadlines, at most `maxsize` entries; `maxsize=0` disables it.

    `clock` returns the current Unix time (the time `exp` is measured in); default `time.time`,
    looked up when the cache is built.
    Not thread-safe: it is used from the event loop only.
    """

    __slots__ = ("_clock", "_entries", "evictions", "hits", "maxsize", "misses", "ttl")

    def __init__(self, *, maxsize: int = 10_000, ttl: float = 300.0, clock: Callable[[], float] | None = None) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0")
        if ttl <= 0:
            raise ValueError("ttl must be > 0")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock if clock is not None else time.time
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TokenCache(maxsize={self.maxsize}, ttl={self.ttl}, size={len(self._entries)})"

    def get(self, key: K) -> V | None:
        """The value stored for `key`, or None when absent or past its deadline."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def put(self, key: K, value: V, *, expires_at: float | None) -> None:
        """Store `value` until the earlier of `expires_at` (Unix time) and now + TTL."""
        if self.maxsize == 0:
            return
        now = self._clock()
        deadline = now + self.ttl
        if expires_at is not None and expires_at < deadline:
            deadline = expires_at
        if deadline <= now:
            # Accepted within the verifier's leeway but already past exp: never serve it from here.
            self._entries.pop(key, None)
            return
        self._entries[key] = (value, deadline)
        self._entries.move_to_end(key)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
            self.evictions += 1

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
