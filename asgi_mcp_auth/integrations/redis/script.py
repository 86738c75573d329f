"""What the Redis revocation store writes and counts: the Lua script and the stats."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REVOKE_SCRIPT", "RevocationStats"]

# KEYS: entries, generation, channel. ARGV: now, until, entry. Prunes what has expired, adds the
# entry, keeps the set's own TTL at its latest entry, bumps the generation and publishes
# "<generation> <entry>" -- atomically, so a replica that reads the generation also sees the entry.
REVOKE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
local expire_at = math.ceil(tonumber(ARGV[2]))
redis.call('EXPIREAT', KEYS[1], expire_at, 'NX')
redis.call('EXPIREAT', KEYS[1], expire_at, 'GT')
local generation = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], generation .. ' ' .. ARGV[3])
return generation
"""


@dataclass
class RevocationStats:
    """Counters of one replica's store (only ever increase): polls that succeeded, re-read the
    whole set, or failed; published revocations applied; requests served unchecked (open mode)
    or refused 503 (closed mode); subscriptions re-established."""

    syncs: int = 0
    full_syncs: int = 0
    sync_failures: int = 0
    messages: int = 0
    unchecked: int = 0
    refused_unavailable: int = 0
    reconnects: int = 0
