"""Case 1: per-request time of raw ASGI calls in one process, next to the SDK's auth stack."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from harness import (
    AUDIENCE,
    SECRET,
    FloorMiddleware,
    Headers,
    Plan,
    Variant,
    app_variant,
    bare_app,
    decode_batch,
    make_token,
    measure_all,
    ours,
    pool_token,
    request_headers,
    sdk_stack,
    status_of,
    token_pool,
)

from asgi_mcp_auth import AuthSettings, MCPAuthMiddleware

WARM = "ours, warm (same token)"
DISTINCT = "ours, warm (10 000 distinct live tokens)"
FLOOR = "floor: scope writes, 2 ContextVars, send"
COLD = "ours, cold (new token each request)"
COLD_NO_CACHE = "  (cold with TOKEN_CACHE_SIZE=0)"
SDK = "mcp SDK auth stack"
BARE = "bare app"
DECODE = "jwt.decode alone"


async def overhead_section(quick: bool) -> dict[str, float]:
    repeats = 3 if quick else 5
    fast = Plan(batch=5_000, batches=5) if quick else Plan(batch=20_000, batches=7)
    slow = Plan(batch=1_000, batches=5) if quick else Plan(batch=2_000, batches=7)
    same = request_headers(pool_token("warm", 0))

    def repeated(count: int) -> Sequence[Headers]:
        return [same] * count

    cold_tokens = min(slow.batch, 500) + slow.batch * slow.batches * repeats
    ours_app, sdk_app = ours(bare_app), sdk_stack(bare_app)
    for name, app in (("bare", bare_app), ("ours", ours_app), ("sdk", sdk_app)):
        status = await status_of(app, same)
        if status != 200:
            raise SystemExit(f"{name}: a valid token got {status}")
    if await status_of(ours_app, request_headers(make_token("mallory", aud="https://elsewhere"))) != 401:
        raise SystemExit("ours: a token for another audience was not refused")
    if await status_of(sdk_app, request_headers(make_token("mallory", lifetime=-60))) != 401:
        raise SystemExit("sdk: an expired token was not refused")

    decode_tokens = token_pool(cold_tokens, "jwtd")

    async def decode_only(count: int) -> float:
        return decode_batch(decode_tokens(count))

    uncached = MCPAuthMiddleware(
        bare_app, settings=AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, token_cache_size=0)
    )
    # 10 000 live tokens, every one verified and cached before timing, taken in turn.
    distinct_app = ours(bare_app)
    distinct_pool = [request_headers(pool_token("live", i)) for i in range(distinct_app.authenticator.cache.maxsize)]
    for headers in distinct_pool:
        await status_of(distinct_app, headers)
    cycle = itertools.cycle(distinct_pool)

    def distinct(count: int) -> Sequence[Headers]:
        return list(itertools.islice(cycle, count))

    identity = ours_app.authenticator.cache.get(same[-1][1])
    assert identity is not None
    variants = [
        app_variant(BARE, bare_app, fast, repeated),
        app_variant(FLOOR, FloorMiddleware(bare_app, identity), fast, repeated),
        app_variant(WARM, ours_app, fast, repeated),
        app_variant(DISTINCT, distinct_app, fast, distinct),
        app_variant(COLD, ours(bare_app), slow, token_pool(cold_tokens, "cold")),
        app_variant(COLD_NO_CACHE, uncached, slow, token_pool(cold_tokens, "uncached")),
        app_variant(SDK, sdk_app, slow, token_pool(cold_tokens, "sdkv")),
        Variant(DECODE, slow, decode_only),
    ]
    results = await measure_all(variants, repeats)

    bare = results[BARE]
    print("\n## 1. Per-request time, raw ASGI calls in one process")
    print(f"(min over {repeats} repeats of the median of per-request time over batches; overhead = minus bare app)\n")
    print(f"{'':40s} {'per request':>12s} {'overhead':>11s}")
    for name, seconds in results.items():
        overhead = "" if name in (BARE, DECODE) else f"{(seconds - bare) * 1e6:8.2f} us"
        print(f"{name:40s} {seconds * 1e6:9.2f} us {overhead:>11s}")
    warm, cold, sdk = results[WARM] - bare, results[COLD] - bare, results[SDK] - bare
    many, floor = results[DISTINCT] - bare, results[FLOOR] - bare
    print()
    targets = [
        (
            f"ours-warm / SDK overhead  {warm / sdk:6.3f}  (SDK {sdk / warm:.1f}x slower)",
            "target <= 1/12",
            sdk >= 12 * warm,
        ),
        (f"ours-cold / SDK overhead  {cold / sdk:6.3f}", "target <= 1", cold <= sdk),
        (f"ours-warm overhead        {warm * 1e6:6.2f} us", "target < 1 us", warm < 1e-6),
        (f"  of which the floor      {floor * 1e6:6.2f} us", "(no target)", None),
        (f"10 000 tokens / one token {many / warm:6.2f}", "target <= 1.5", many <= 1.5 * warm),
    ]
    for figure, target, met in targets:
        verdict = "" if met is None else "MET" if met else "MISSED"
        print(f"{figure:52s} {target:16s} {verdict}")
    return results
