"""The example gateway as real uvicorn replicas sharing a real redis-server.

Each replica is its own process (`examples.replicas.Replica`); revocations go through the
example's logout route. Deadlines are generous bounds on eventual behaviour, not timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Iterator, Sequence

import httpx
import pytest
from tokens import AUDIENCE, SECRET, token

from examples.replicas import RedisServer, Replica, replica_environment

pytestmark = pytest.mark.anyio

POLL = 1.0
TIMEOUT = 0.3
BOUND = POLL + 2 * TIMEOUT  # how long a replica may serve from a copy it cannot refresh
EVENTUALLY = 20.0


@contextlib.contextmanager
def replicas(server: RedisServer | None, count: int, **extra: str) -> Iterator[list[Replica]]:
    env = replica_environment(
        server.url if server is not None else None,
        secret=SECRET,
        audience=AUDIENCE,
        extra={
            "MCP_AUTH_REVOCATION_POLL_SECONDS": str(POLL),
            "MCP_AUTH_REVOCATION_CONNECT_TIMEOUT_SECONDS": str(TIMEOUT),
            "MCP_AUTH_REVOCATION_COMMAND_TIMEOUT_SECONDS": str(TIMEOUT),
            **extra,
        },
    )
    started = [Replica(env).launch() for _ in range(count)]
    try:
        for replica in started:
            replica.wait_ready()
        yield started
    except BaseException:
        for replica in started:
            print(f"--- replica {replica.url} ---\n{replica.log()}")
        raise
    finally:
        for replica in started:
            replica.stop()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def statuses(http: httpx.AsyncClient, urls: Sequence[str], tokens: Sequence[str]) -> list[int]:
    """GET /whoami for every (replica, token), a few at a time; the status codes."""
    gate = asyncio.Semaphore(8)

    async def one(url: str, value: str) -> int:
        async with gate:
            return (await http.get(f"{url}/whoami", headers=bearer(value))).status_code

    return list(await asyncio.gather(*(one(url, value) for url in urls for value in tokens)))


async def logout(http: httpx.AsyncClient, url: str, value: str, **form: str) -> httpx.Response:
    return await http.post(f"{url}/admin/logout", headers=bearer(value), data=form)


async def eventually_status(http: httpx.AsyncClient, url: str, value: str, expected: int) -> httpx.Response:
    deadline = time.monotonic() + EVENTUALLY
    while True:
        response = await http.get(f"{url}/whoami", headers=bearer(value))
        if response.status_code == expected:
            return response
        assert time.monotonic() < deadline, f"{url} still answers {response.status_code}, not {expected}"
        await asyncio.sleep(0.05)


def tokens_for(count: int, prefix: str) -> list[str]:
    return [token(f"{prefix}{number}", jti=secrets.token_hex(8), roles=["viewer"]) for number in range(count)]


@pytest.mark.slow
async def test_every_token_revoked_round_robin_is_refused_by_every_replica_after_the_bound(
    redis_server: RedisServer,
) -> None:
    revoked, kept = tokens_for(1000, "user"), tokens_for(20, "kept")
    with replicas(redis_server, 3) as started:
        urls = [replica.url for replica in started]
        async with httpx.AsyncClient(timeout=30) as http:
            # Every token cached on every replica first: the case a per-process cache would miss.
            assert set(await statuses(http, urls, revoked + kept)) == {200}
            gate = asyncio.Semaphore(8)

            async def revoke(number: int, value: str) -> int:
                async with gate:
                    return (await logout(http, urls[number % 3], value)).status_code

            assert set(await asyncio.gather(*(revoke(n, value) for n, value in enumerate(revoked)))) == {303}
            await asyncio.sleep(BOUND)
            assert set(await statuses(http, urls, revoked)) == {401}
            assert set(await statuses(http, urls, kept)) == {200}


async def test_sign_out_everywhere_on_one_replica_refuses_the_users_other_tokens_on_another(
    redis_server: RedisServer,
) -> None:
    laptop = token("alice", jti="laptop", iat=int(time.time()) - 5)
    phone = token("alice", jti="phone", iat=int(time.time()) - 5)
    with replicas(redis_server, 2) as (first, second):
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(f"{second.url}/whoami", headers=bearer(phone))).status_code == 200
            assert (await logout(http, first.url, laptop, everywhere="1")).status_code == 303
            refused = await eventually_status(http, second.url, phone, 401)
            assert refused.json() == {"detail": "Token revoked"}


async def test_a_replica_whose_subscription_is_dropped_converges_within_the_poll_bound(
    redis_server: RedisServer,
) -> None:
    victim = token("carol", jti="carol-1")
    with replicas(redis_server, 2) as (first, second):
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(f"{second.url}/whoami", headers=bearer(victim))).status_code == 200
            redis_server.command("CLIENT", "KILL", "TYPE", "pubsub")  # both replicas lose their subscription
            started = time.monotonic()
            assert (await logout(http, first.url, victim)).status_code == 303
            await eventually_status(http, second.url, victim, 401)
            assert time.monotonic() - started < BOUND + 3.0  # the poll bound, with a wide margin for a busy machine


async def test_closed_mode_answers_503_with_retry_after_while_redis_is_down_then_recovers(
    redis_server: RedisServer,
) -> None:
    user = token("dave")
    with replicas(redis_server, 1) as (replica,):
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(f"{replica.url}/whoami", headers=bearer(user))).status_code == 200
            redis_server.kill()
            refused = await eventually_status(http, replica.url, user, 503)
            assert refused.headers["Retry-After"] == "1"
            assert refused.json() == {"detail": "Revocation state unavailable"}
            assert "www-authenticate" not in refused.headers
            mcp = await http.post(
                f"{replica.url}/mcp/",
                headers={**bearer(user), "Accept": "application/json, text/event-stream"},
                json={"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}},
            )
            assert mcp.status_code == 503
            assert mcp.json()["id"] == 7
            redis_server.start()
            await eventually_status(http, replica.url, user, 200)
            health = (await http.get(f"{replica.url}/health")).json()
            assert health["revocation"]["refused_unavailable"] >= 1
            assert health["revocation"]["trusted"] is True


async def test_open_mode_serves_and_counts_while_redis_is_down(redis_server: RedisServer) -> None:
    user, gone = token("erin", jti="erin-1"), token("erin", jti="erin-2")
    with replicas(redis_server, 1, MCP_AUTH_REVOCATION_FAILURE="open") as (replica,):
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await logout(http, replica.url, gone)).status_code == 303
            redis_server.kill()
            deadline = time.monotonic() + EVENTUALLY
            while (await http.get(f"{replica.url}/health")).json()["revocation"]["trusted"]:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            assert (await http.get(f"{replica.url}/whoami", headers=bearer(user))).status_code == 200
            assert (await http.get(f"{replica.url}/whoami", headers=bearer(gone))).status_code == 401
            health = (await http.get(f"{replica.url}/health")).json()
            assert health["revocation"]["unchecked"] >= 1
            assert "Serving requests whose revocation" in replica.log()  # logged once per outage


async def test_a_slow_redis_never_holds_a_request_past_the_timeouts(redis_server: RedisServer) -> None:
    user, other = token("frank", jti="frank-1"), token("frank", jti="frank-2")
    with replicas(redis_server, 1) as (replica,):
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(f"{replica.url}/whoami", headers=bearer(other))).status_code == 200
            sleeper = threading.Thread(target=redis_server.command, args=("DEBUG", "SLEEP", "4"))
            sleeper.start()
            await asyncio.sleep(0.2)
            started = time.monotonic()
            response = await logout(http, replica.url, user)
            assert time.monotonic() - started < 3.0  # timeouts are 0.3 s each: far below the 4 s sleep
            assert response.status_code == 503
            assert "set-cookie" in response.headers  # the cookie is cleared all the same
            started = time.monotonic()
            warm = await http.get(f"{replica.url}/whoami", headers=bearer(other))
            assert time.monotonic() - started < 3.0
            assert warm.status_code in (200, 503)  # served from memory, or refused once the bound passed
            await asyncio.to_thread(sleeper.join)


async def test_without_redis_the_example_keeps_its_logout_in_process() -> None:
    user = token("grace", jti="grace-1")
    with replicas(None, 1) as (replica,):
        async with httpx.AsyncClient(timeout=30) as http:
            assert "revocation" not in (await http.get(f"{replica.url}/health")).json()
            assert (await logout(http, replica.url, user)).status_code == 303
            assert (await http.get(f"{replica.url}/whoami", headers=bearer(user))).status_code == 401
