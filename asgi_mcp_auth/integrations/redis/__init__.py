"""`RedisRevocationStore`: one revocation state for every replica of a gateway, on Redis.

Trust assumptions: every replica uses the same Redis (one instance, or one URL to a primary);
only gateways write under `key_prefix`; the network to Redis is trusted (else `rediss://`).

Off the request path: each replica holds the whole state in memory and `check` only looks it
up. Redis keeps a sorted set of revocations scored by when they may be forgotten (bounded) and
a generation counter; one Lua script writes, counts and publishes a revocation. The subscriber
applies published revocations at once and asks for a re-sync on a generation gap or a
reconnect; the poller reads the generation every `poll_seconds` and re-reads the set when it
moved, so a replica that missed messages converges within one poll. Each successful poll
extends how long the replica vouches for its copy (`poll_seconds` + 2 x command timeout); past
that, `failure="closed"` answers 503 with `Retry-After`, `failure="open"` serves (known
revocations still refuse), logs once per outage and counts. Every call is bounded by the
connect and command timeouts; the client reconnects by itself.
"""

from __future__ import annotations

from .script import RevocationStats
from .store import RedisRevocationStore

__all__ = ["RedisRevocationStore", "RevocationStats"]
