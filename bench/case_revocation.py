"""Case 6: the warm path with revocation on: the default in-process store, and a Redis store
shared by replicas (synced, holding 1000 token and 100 subject revocations), next to the bare
app. The request path only looks the token up in memory; it never talks to Redis."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Sequence

from harness import (
    AUDIENCE,
    SECRET,
    Headers,
    Plan,
    app_variant,
    bare_app,
    measure_all,
    ours,
    pool_token,
    request_headers,
    status_of,
)

from asgi_mcp_auth import AuthSettings, MCPAuthMiddleware, Revocation
from asgi_mcp_auth.integrations.redis import RedisRevocationStore
from examples.replicas import RedisServer

BARE = "bare app"
WARM = "ours, warm, in-process revocation store"
WARM_REDIS = "ours, warm, Redis revocation store"
HELD = 1000


@contextlib.asynccontextmanager
async def redis_store() -> AsyncIterator[RedisRevocationStore]:
    with RedisServer() as server:
        # The timed loops never yield to the event loop, so the poller cannot run during a batch:
        # a long poll keeps the copy vouched for through the run (what is timed is the lookup).
        store = RedisRevocationStore(server.url, poll_seconds=600.0)
        await store.start()
        try:
            until = time.time() + 3600
            for number in range(HELD):
                await store.revoke(Revocation(kind="token", token=f"{number:064x}", until=until))
            for number in range(100):
                await store.revoke(Revocation.of_subject(f"someone-else-{number}"))
            yield store
        finally:
            await store.aclose()


async def revocation_section(quick: bool) -> dict[str, float]:
    print("\n## 6. The warm path with revocation on, raw ASGI calls in one process\n")
    if shutil.which("redis-server") is None:
        print("redis-server is not installed: skipped")
        return {}
    repeats = 3 if quick else 5
    fast = Plan(batch=5_000, batches=5) if quick else Plan(batch=20_000, batches=7)
    same = request_headers(pool_token("warm", 0))

    def repeated(count: int) -> Sequence[Headers]:
        return [same] * count

    async with redis_store() as store:
        shared = MCPAuthMiddleware(
            bare_app, settings=AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE), revocation=store
        )
        local = ours(bare_app)
        for app in (shared, local):
            if await status_of(app, same) != 200:
                raise SystemExit("a valid token was not served")
        variants = [
            app_variant(BARE, bare_app, fast, repeated),
            app_variant(WARM, local, fast, repeated),
            app_variant(WARM_REDIS, shared, fast, repeated),
        ]
        results = await measure_all(variants, repeats)
        if not store.trusted:
            raise SystemExit("the Redis store stopped vouching for its copy during the run")
    bare = results[BARE]
    print(f"(Redis store: {HELD} token + 100 subject revocations held, synced; min over {repeats} repeats)\n")
    print(f"{'':44s} {'per request':>12s} {'overhead':>11s}")
    for name, seconds in results.items():
        overhead = "" if name == BARE else f"{(seconds - bare) * 1e6:8.2f} us"
        print(f"{name:44s} {seconds * 1e6:9.2f} us {overhead:>11s}")
    extra = results[WARM_REDIS] - results[WARM]
    met = "MET" if extra <= 1e-6 else "MISSED"
    print(f"\nRedis store above the in-process store  {extra * 1e6:+6.2f} us   target <= 1 us   {met}")
    return results
