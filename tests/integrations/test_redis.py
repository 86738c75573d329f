"""`RedisRevocationStore` against a real redis-server, in one process: two stores stand for two
replicas. Deadlines below are generous upper bounds for eventual behaviour, never timings."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from tokens import ISSUER, settings

from asgi_mcp_auth import AuthenticationError, Principal, Revocation, ServiceUnavailable
from asgi_mcp_auth.credentials.revocation import RevocationKey, revocation_key, store_from_settings
from asgi_mcp_auth.integrations.redis import RedisRevocationStore
from examples.replicas import RedisServer

pytestmark = pytest.mark.anyio

POLL = 0.5
EVENTUALLY = 15.0  # seconds: far above any bound here, so a slow machine cannot fail a test


def key(sub: str = "alice", jti: str = "j1", **claims: Any) -> RevocationKey:
    now = time.time()
    values: dict[str, Any] = {"sub": sub, "iss": ISSUER, "iat": now - 10, "exp": now + 600, "jti": jti, **claims}
    principal = Principal(
        subject=sub, issuer=ISSUER, client_id=values.get("client_id"), expires_at=int(now + 600), claims=values
    )
    return revocation_key(principal, None)


def refuses(store: RedisRevocationStore, revocation_key: RevocationKey) -> bool:
    try:
        store.check(revocation_key)
    except AuthenticationError:
        return True
    return False


async def eventually(condition: Callable[[], bool], *, within: float = EVENTUALLY) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached within the deadline"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def store(server: RedisServer, **options: Any) -> AsyncIterator[RedisRevocationStore]:
    options.setdefault("poll_seconds", POLL)
    options.setdefault("command_timeout", 0.3)
    options.setdefault("connect_timeout", 0.3)
    async with RedisRevocationStore(server.url, **options) as opened:
        yield opened


async def test_a_revocation_on_one_replica_is_refused_by_the_other(redis_server: RedisServer) -> None:
    async with store(redis_server) as first, store(redis_server) as second:
        second.check(key())  # trusted and not revoked
        await first.revoke(Revocation.of_token(key()))
        assert refuses(first, key())  # at once where it was revoked
        await eventually(lambda: refuses(second, key()))
        assert not refuses(second, key(jti="j2"))


async def test_sign_out_everywhere_and_client_revocations_reach_other_replicas(redis_server: RedisServer) -> None:
    async with store(redis_server) as first, store(redis_server) as second:
        await first.revoke(Revocation.of_subject("alice", issuer=ISSUER))
        await first.revoke(Revocation.of_client("ci-bot", issuer=ISSUER))
        await eventually(lambda: refuses(second, key("alice", jti="any")))
        await eventually(lambda: refuses(second, key("bob", client_id="ci-bot")))
        assert not refuses(second, key("bob"))


async def test_a_replica_started_later_loads_every_live_revocation(redis_server: RedisServer) -> None:
    async with store(redis_server) as first:
        for number in range(50):
            await first.revoke(Revocation.of_token(key(jti=f"j{number}")))
    async with store(redis_server) as late:
        assert late.trusted
        assert all(refuses(late, key(jti=f"j{number}")) for number in range(50))


async def test_a_replica_whose_subscription_is_dropped_converges_within_the_poll(redis_server: RedisServer) -> None:
    async with store(redis_server) as first, store(redis_server) as second:
        redis_server.command("CLIENT", "KILL", "TYPE", "pubsub")
        await first.revoke(Revocation.of_token(key()))  # published while nobody listens
        started = time.monotonic()
        await eventually(lambda: refuses(second, key()))
        # The bound itself, generously: one poll plus its timeouts, and the reconnect back-off.
        assert time.monotonic() - started < POLL + 2 * 0.3 + 2.0
        await eventually(lambda: second.stats.reconnects >= 1)


async def test_the_store_never_grows_past_the_tokens_it_covers(redis_server: RedisServer) -> None:
    async with store(redis_server) as first:
        await first.revoke(Revocation(kind="token", token="a" * 64, until=time.time() + 1))
        await asyncio.sleep(1.5)
        await first.revoke(Revocation(kind="token", token="b" * 64, until=time.time() + 600))
        members = redis_server.command("ZCARD", "asgi-mcp-auth:revocation:entries")
        assert members.strip() == b":1"
        ttl = int(redis_server.command("TTL", "asgi-mcp-auth:revocation:entries").strip()[1:])
        assert 0 < ttl <= 601


async def test_closed_mode_answers_503_while_redis_is_down_and_recovers(redis_server: RedisServer) -> None:
    async with store(redis_server) as replica:
        replica.check(key())
        redis_server.kill()
        await eventually(lambda: not replica.trusted)
        with pytest.raises(ServiceUnavailable) as refused:
            replica.check(key())
        assert refused.value.status_code == 503
        assert refused.value.retry_after == 1  # ceil(poll_seconds)
        redis_server.start()
        await eventually(lambda: replica.trusted)
        replica.check(key())
        assert replica.stats.refused_unavailable >= 1


async def test_open_mode_serves_and_counts_while_redis_is_down_but_still_refuses_what_it_knows(
    redis_server: RedisServer,
) -> None:
    async with store(redis_server, failure="open") as replica:
        await replica.revoke(Revocation.of_token(key(jti="known")))
        redis_server.kill()
        await eventually(lambda: not replica.trusted)
        replica.check(key())
        replica.check(key())
        assert replica.stats.unchecked == 2
        assert refuses(replica, key(jti="known"))


async def test_revocations_survive_a_redis_restart_without_persistence_on_running_replicas(
    redis_server: RedisServer,
) -> None:
    async with store(redis_server) as replica:
        await replica.revoke(Revocation.of_token(key(jti="before-restart")))
        redis_server.kill()
        redis_server.start()
        await eventually(lambda: replica.stats.full_syncs >= 2 and replica.trusted)
        assert refuses(replica, key(jti="before-restart"))


async def timed(call: Awaitable[Any]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        await call
    except BaseException as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


async def test_a_slow_redis_never_makes_a_revoke_wait_past_its_timeouts(redis_server: RedisServer) -> None:
    async with store(redis_server) as replica:
        sleeper = asyncio.create_task(asyncio.to_thread(redis_server.command, "DEBUG", "SLEEP", "3"))
        await asyncio.sleep(0.2)
        elapsed, error = await timed(replica.revoke(Revocation.of_token(key())))
        assert isinstance(error, ServiceUnavailable)
        assert elapsed < 2.5  # connect + command timeouts are 0.6 s: bounded well before the 3 s sleep
        assert refuses(replica, key())  # refused here even though it could not be shared
        await sleeper


async def test_a_first_request_against_an_unreachable_redis_waits_at_most_the_timeouts() -> None:
    dead = RedisServer()  # never started: nothing listens on its port
    replica = RedisRevocationStore(dead.url, connect_timeout=0.3, command_timeout=0.3, poll_seconds=POLL)
    try:
        elapsed, error = await timed(replica.start())
        assert error is None
        assert elapsed < 2.0
        with pytest.raises(ServiceUnavailable):
            replica.check(key())
    finally:
        await replica.aclose()


def test_the_redis_url_setting_builds_the_redis_store_and_its_repr_hides_the_password() -> None:
    built = store_from_settings(settings(revocation_redis_url="redis://:hunter2@127.0.0.1:6390/0"))
    assert isinstance(built, RedisRevocationStore)
    assert "hunter2" not in repr(built)
    assert built.failure == "closed"
