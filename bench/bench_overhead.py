"""What `MCPAuthMiddleware` costs per request, next to the mcp SDK's auth stack. Not a test.

    .venv/bin/python bench/bench_overhead.py            # the full run (`make bench`), ~2-3 minutes
    .venv/bin/python bench/bench_overhead.py --quick    # fewer iterations, a smaller memory run

1. In one process, raw ASGI calls (no HTTP, no server) into: a bare app; this middleware with
   the same token every request (warm: the verified-token cache answers); this middleware with a
   new token every request (cold: every token is verified; tokens made before timing); the SDK's
   `AuthenticationMiddleware(BearerAuthBackend)` + `AuthContextMiddleware` +
   `RequireAuthMiddleware` with a PyJWT `TokenVerifier` doing the same checks (HS256, aud, exp,
   sub); and `jwt.decode` alone. The SDK stack has no cache: it gets a new token each request
   too; all tokens have the same length. Each figure is the minimum over repeats of the median
   over batches, the variants interleaved; overheads subtract the bare app.
2. End to end: requests per second of the example gateway's `/whoami` under uvicorn on
   127.0.0.1 (one worker, `wrk` as load generator, or an httpx loop without it), with the
   middleware, and with it replaced by a stub that sets the same principal (same app, same route,
   same response).
3. Memory: 1 000 000 requests with 100 000 distinct tokens through the middleware, in process:
   the cache stays within its bound; resident memory before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import jwt
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asgi_mcp_auth import (
    PRINCIPAL_KEY,
    AuthSettings,
    Credential,
    JWTVerifier,
    MCPAuthMiddleware,
    Principal,
    Revocation,
    TokenSource,
)
from asgi_mcp_auth.integrations.redis import RedisRevocationStore

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-ABCDEF"
AUDIENCE = "http://127.0.0.1/mcp"
PATH = "/whoami"
Headers = list[tuple[bytes, bytes]]


def make_token(sub: str, *, lifetime: int = 3600, **extra: Any) -> str:
    now = int(time.time())
    claims = {"sub": sub, "aud": AUDIENCE, "iat": now, "exp": now + lifetime, "roles": ["developer"], **extra}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def request_headers(token: str) -> Headers:
    return [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"bench/1.0"),
        (b"accept", b"application/json"),
        (b"authorization", b"Bearer " + token.encode()),
    ]


SCOPE: Scope = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": PATH,
    "raw_path": PATH.encode(),
    "query_string": b"",
    "root_path": "",
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


# -- the apps -------------------------------------------------------------------------------------


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def discard(message: Message) -> None:
    return None


class PyJWTTokenVerifier:
    """The SDK's `TokenVerifier` protocol with the checks this middleware makes (HS256, aud, exp, sub)."""

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = jwt.decode(
                token, SECRET, algorithms=["HS256"], audience=AUDIENCE, options={"require": ["exp", "sub"]}
            )
        except jwt.PyJWTError:
            return None
        return AccessToken(
            token=token,
            client_id=claims["sub"],
            scopes=[],
            expires_at=claims["exp"],
            resource=AUDIENCE,
            subject=claims["sub"],
            claims=claims,
        )


def sdk_stack(app: ASGIApp) -> ASGIApp:
    inner = AuthContextMiddleware(RequireAuthMiddleware(app, required_scopes=[]))
    return AuthenticationMiddleware(inner, backend=BearerAuthBackend(PyJWTTokenVerifier()))


def ours(app: ASGIApp) -> MCPAuthMiddleware:
    return MCPAuthMiddleware(app, settings=AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE))


# -- 1. per-request time, in process ----------------------------------------------------------------


async def status_of(app: ASGIApp, headers: Headers) -> int:
    sent: list[Message] = []

    async def keep(message: Message) -> None:
        sent.append(message)

    await app({**SCOPE, "headers": headers}, receive, keep)
    return int(sent[0]["status"])


async def time_batch(app: ASGIApp, header_lists: Sequence[Headers]) -> float:
    """Seconds per request over one batch; every request gets a fresh scope, as from a server."""
    scope = SCOPE
    start = time.perf_counter()
    for headers in header_lists:
        await app({**scope, "headers": headers}, receive, discard)
    return (time.perf_counter() - start) / len(header_lists)


def decode_batch(header_lists: Sequence[Headers]) -> float:
    """`time_batch` for `jwt.decode` alone, on the same tokens."""
    tokens = [headers[-1][1][len(b"Bearer ") :].decode() for headers in header_lists]
    start = time.perf_counter()
    for token in tokens:
        jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE, options={"require": ["exp", "sub"]})
    return (time.perf_counter() - start) / len(tokens)


@dataclass
class Plan:
    batch: int  # requests per batch
    batches: int  # batches per repeat: the repeat's figure is their median


@dataclass
class Variant:
    name: str
    plan: Plan
    run_batch: Callable[[int], Awaitable[float]]  # seconds per request over a batch of that size
    medians: list[float] = field(default_factory=list)


def app_variant(name: str, app: ASGIApp, plan: Plan, headers_for: Callable[[int], Sequence[Headers]]) -> Variant:
    async def run_batch(count: int) -> float:
        return await time_batch(app, headers_for(count))

    return Variant(name, plan, run_batch)


async def measure_all(variants: Sequence[Variant], repeats: int) -> dict[str, float]:
    """Each repeat runs every variant in turn (so drift on a shared machine hits all of them);
    a variant's figure is the minimum over repeats of its median over batches."""
    for variant in variants:
        await variant.run_batch(min(variant.plan.batch, 500))  # warm-up: imports, first-use paths
    for _ in range(repeats):
        for variant in variants:
            gc.collect()
            batches = [await variant.run_batch(variant.plan.batch) for _ in range(variant.plan.batches)]
            variant.medians.append(statistics.median(batches))
    return {variant.name: min(variant.medians) for variant in variants}


def pool_token(prefix: str, index: int) -> str:
    """Tokens of one shape and length (PyJWT's cost grows with the length)."""
    return make_token(f"{prefix}-{index:07d}", jti=f"{prefix}-{index:07d}")


def token_pool(count: int, prefix: str) -> Callable[[int], Sequence[Headers]]:
    """Distinct tokens, made before any timing; each is handed out once."""
    pool = iter([request_headers(pool_token(prefix, i)) for i in range(count)])

    def take(size: int) -> Sequence[Headers]:
        return [next(pool) for _ in range(size)]

    return take


WARM = "ours, warm (same token)"
COLD = "ours, cold (new token each request)"
COLD_NO_CACHE = "  (cold with TOKEN_CACHE_SIZE=0)"
SDK = "mcp SDK auth stack"
BARE = "bare app"
WARM_REDIS = "ours, warm, Redis revocation store"
HELD_REVOCATIONS = 1000


@contextlib.asynccontextmanager
async def redis_store() -> AsyncIterator[RedisRevocationStore | None]:
    """A synced Redis store holding 1000 token and 100 subject revocations (none of them the
    benchmark's token), on a redis-server of its own; None when redis-server is not installed."""
    if shutil.which("redis-server") is None:
        yield None
        return
    from examples.replicas import RedisServer  # examples/ is on sys.path only once main() runs

    with RedisServer() as server:
        # The timed loops never yield to the event loop, so the poller cannot run during a batch:
        # a long poll keeps the copy vouched for through the run (what is timed is the lookup).
        store = RedisRevocationStore(server.url, poll_seconds=600.0)
        await store.start()
        try:
            until = time.time() + 3600
            for number in range(HELD_REVOCATIONS):
                await store.revoke(Revocation(kind="token", token=f"{number:064x}", until=until))
            for number in range(100):
                await store.revoke(Revocation.of_subject(f"someone-else-{number}"))
            yield store
        finally:
            await store.aclose()


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

    async with redis_store() as store:
        return await _measure(quick, repeats, fast, slow, same, repeated, cold_tokens, ours_app, sdk_app, store)


async def _measure(
    quick: bool,
    repeats: int,
    fast: Plan,
    slow: Plan,
    same: Headers,
    repeated: Callable[[int], Sequence[Headers]],
    cold_tokens: int,
    ours_app: ASGIApp,
    sdk_app: ASGIApp,
    store: RedisRevocationStore | None,
) -> dict[str, float]:
    decode_tokens = token_pool(cold_tokens, "jwtd")

    async def decode_only(count: int) -> float:
        return decode_batch(decode_tokens(count))

    uncached = MCPAuthMiddleware(
        bare_app, settings=AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE, token_cache_size=0)
    )
    with_redis: list[Variant] = []
    if store is not None:
        shared = MCPAuthMiddleware(
            bare_app, settings=AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE), revocation=store
        )
        if await status_of(shared, same) != 200 or not store.trusted:
            raise SystemExit("ours with the Redis store: a valid token was not served")
        with_redis.append(app_variant(WARM_REDIS, shared, fast, repeated))
    variants = [
        app_variant(BARE, bare_app, fast, repeated),
        app_variant(WARM, ours_app, fast, repeated),
        *with_redis,
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
    print()
    targets = [
        (
            f"ours-warm / SDK overhead  {warm / sdk:6.3f}  (SDK {sdk / warm:.1f}x slower)",
            "target <= 1/12",
            sdk >= 12 * warm,
        ),
        (f"ours-cold / SDK overhead  {cold / sdk:6.3f}", "target <= 1", cold <= sdk),
        (f"ours-warm overhead        {warm * 1e6:6.2f} us", "target <= 5 us", warm <= 5e-6),
    ]
    if WARM_REDIS in results:
        extra = results[WARM_REDIS] - results[WARM]
        print(f"(Redis store: {HELD_REVOCATIONS} token + 100 subject revocations held, synced, no I/O per request)")
        targets.append((f"Redis revocation, warm     {extra * 1e6:+6.2f} us", "target <= 1 us", extra <= 1e-6))
    else:
        print("(redis-server not installed: the Redis revocation variant was skipped)")
    for figure, target, met in targets:
        print(f"{figure:52s} {target:16s} {'MET' if met else 'MISSED'}")
    return results


# -- 2. end to end under uvicorn ----------------------------------------------------------------------


class FixedPrincipal:
    """Stands in for the middleware in the 'without' run: the route finds the same principal."""

    def __init__(self, app: ASGIApp, principal: Principal) -> None:
        self.app = app
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[PRINCIPAL_KEY] = self.principal
        await self.app(scope, receive, send)


def example_app(with_middleware: bool) -> ASGIApp:
    from starlette.middleware import Middleware

    from examples.fastapi_app.main import create_app

    settings = AuthSettings(jwt_secret=SECRET, jwt_audience=AUDIENCE)
    app = create_app(settings)
    if not with_middleware:
        # The principal the middleware would give the benchmark's token: the same response body.
        credential = Credential(make_token("alice"), TokenSource.HEADER)
        principal = asyncio.run(JWTVerifier.from_settings(settings).verify(credential))
        stub = Middleware(FixedPrincipal, principal=principal)
        app.user_middleware = [
            stub if cast(object, entry.cls) is MCPAuthMiddleware else entry for entry in app.user_middleware
        ]
    return app


def serve(mode: str, port: int) -> None:
    import uvicorn

    uvicorn.run(example_app(mode == "with"), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, token: str, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the example app exited during start-up")
        try:
            response = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if response.status_code != 200 or response.json().get("sub") != "alice":
            raise SystemExit(f"/whoami answered {response.status_code}: {response.text[:200]}")
        return
    raise SystemExit("the example app did not start")


def wrk_rps(url: str, token: str, seconds: int, connections: int) -> tuple[float, str]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    output = subprocess.run(  # noqa: S603 - wrk from PATH, our own arguments
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None or "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk failed or saw errors:\n{output}")
    latency = re.search(r"Latency\s+(\S+)", output)
    return float(match.group(1)), latency.group(1) if latency else "?"


async def httpx_rps(url: str, token: str, seconds: int, connections: int) -> tuple[float, str]:
    import httpx

    done = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers={"Authorization": f"Bearer {token}"}) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.get(url)
                if response.status_code != 200:
                    raise SystemExit(f"/whoami answered {response.status_code}")
                done += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return done / seconds, "?"


def load_test(mode: str, token: str, seconds: int, connections: int, generator: str) -> tuple[float, str]:
    """Start the example gateway in its own process, load it, stop it; (requests/s, latency)."""
    port = str(free_port())
    url = f"http://127.0.0.1:{port}{PATH}"
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(  # noqa: S603 - this interpreter, this file
            [sys.executable, __file__, "--serve", mode, "--port", port], cwd=ROOT, stdout=log, stderr=log
        )
        try:
            wait_until_up(url, token, server)
            if generator == "wrk":
                wrk_rps(url, token, 1, connections)  # warm-up
                return wrk_rps(url, token, seconds, connections)
            return asyncio.run(httpx_rps(url, token, seconds, connections))
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))  # the server's own account
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)


def end_to_end_section(quick: bool) -> None:
    seconds, connections, rounds = (3, 32, 1) if quick else (4, 64, 3)
    token = make_token("alice")
    generator = "wrk" if shutil.which("wrk") else "httpx"
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(f"\n## 2. End to end: GET {PATH} of the example gateway, uvicorn (1 worker, {parser}) on 127.0.0.1\n")
    print(f"load generator: {generator} on the same 2-CPU machine, {connections} connections, {seconds} s per run,")
    print(f"same token throughout; {rounds} round(s) of without/with, a fresh server per run\n")
    labels = {"without": "without (stub sets the same principal)", "with": "with MCPAuthMiddleware"}
    runs: dict[str, list[float]] = {mode: [] for mode in labels}
    latencies: dict[str, list[str]] = {mode: [] for mode in labels}
    for _ in range(rounds):
        for mode in labels:
            rps, latency = load_test(mode, token, seconds, connections, generator)
            runs[mode].append(rps)
            latencies[mode].append(latency)
    for mode, label in labels.items():
        each = ", ".join(f"{rps:.0f}" for rps in runs[mode])
        median = statistics.median(runs[mode])
        print(f"{label:40s} {median:6.0f} requests/s (median; runs {each}; latency {', '.join(latencies[mode])})")
    ratio = statistics.median(runs["with"]) / statistics.median(runs["without"])
    print(f"{'throughput with / without (medians)':40s} {ratio:6.3f}")


# -- 3. memory under many distinct tokens ---------------------------------------------------------------


def rss_kib() -> tuple[int, int]:
    """(current, peak) resident set size of this process, KiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def memory_run(quick: bool) -> None:
    """Runs in a fresh process (see `main`), so its resident-memory figures are its own."""
    requests, distinct = (100_000, 10_000) if quick else (1_000_000, 100_000)
    print(f"\n## 3. Memory: {requests:,} requests, {distinct:,} distinct tokens, one middleware, in process\n")
    print(f"fresh process; RSS at start {rss_kib()[0] / 1024:.1f} MiB")
    start = time.perf_counter()
    pool = [request_headers(pool_token("mem", i)) for i in range(distinct)]
    made = time.perf_counter() - start
    print(f"{distinct:,} tokens made in {made:.1f} s (not timed); RSS {rss_kib()[0] / 1024:.1f} MiB")
    middleware = ours(bare_app)
    cache = middleware.authenticator.cache
    refused = 0

    async def count_refusals(message: Message) -> None:
        nonlocal refused
        if message["type"] == "http.response.start" and message["status"] != 200:
            refused += 1

    rng = random.Random(6)
    checkpoints = {requests * step // 4 for step in range(1, 5)}
    gc.collect()
    before = rss_kib()[0]
    print(f"\n{'requests':>12s} {'len(cache)':>11s} {'RSS MiB':>9s} {'peak RSS MiB':>13s}")
    start = time.perf_counter()
    for done in range(1, requests + 1):
        headers = pool[rng.randrange(distinct)]
        await middleware({**SCOPE, "headers": headers}, receive, count_refusals)
        if done in checkpoints:
            current, peak = rss_kib()
            print(f"{done:12,} {len(cache):11,} {current / 1024:9.1f} {peak / 1024:13.1f}")
    elapsed = time.perf_counter() - start
    gc.collect()
    after = rss_kib()[0]
    print(f"\nrequests/s in process {requests / elapsed:,.0f} ({elapsed:.1f} s); refused: {refused}")
    print(f"cache bound {cache.maxsize:,}; RSS growth over the run {(after - before) / 1024:.1f} MiB")

    # What a full cache holds, by tracemalloc, on a fresh middleware.
    probe = ours(bare_app)
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    for headers in pool[: probe.authenticator.cache.maxsize]:
        await probe({**SCOPE, "headers": headers}, receive, discard)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    entries = len(probe.authenticator.cache)
    print(f"a full cache (tracemalloc): {held / 2**20:.1f} MiB for {entries:,} entries, {held / entries:,.0f} B each")


def memory_section(quick: bool) -> None:
    command = [sys.executable, __file__, "--memory-run", *(["--quick"] if quick else [])]
    subprocess.run(command, check=True, cwd=ROOT)  # noqa: S603 - this interpreter, this file


# -- main ---------------------------------------------------------------------------------------------------


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations and a smaller memory run")
    parser.add_argument("--skip-e2e", action="store_true", help="skip the uvicorn runs")
    parser.add_argument("--skip-memory", action="store_true", help="skip the many-tokens memory run")
    parser.add_argument("--serve", choices=["with", "without"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--memory-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    if args.memory_run:
        asyncio.run(memory_run(args.quick))
        return

    started = time.perf_counter()
    print(f"# asgi-mcp-auth overhead benchmark{' (--quick)' if args.quick else ''}")
    print(f"machine: {machine()}")
    asyncio.run(overhead_section(args.quick))
    if not args.skip_e2e:
        end_to_end_section(args.quick)
    if not args.skip_memory:
        sys.stdout.flush()
        memory_section(args.quick)
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
