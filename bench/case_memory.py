"""Case 3: memory under many distinct tokens; the verified-token cache stays within its bound."""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import time
import tracemalloc

from harness import MAIN_SCRIPT, ROOT, SCOPE, bare_app, discard, ours, pool_token, receive, request_headers, rss_kib
from starlette.types import Message


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
    each = held / entries
    verdict = "MET" if each < 1024 else "MISSED"
    print(f"a full cache (tracemalloc): {held / 2**20:.1f} MiB for {entries:,} entries, {each:,.0f} B each")
    token_chars = len(pool[0][-1][1]) - len(b"Bearer ")
    print(f"  ({token_chars}-character tokens, held once each)   target < 1 KB per entry   {verdict}")


def memory_section(quick: bool) -> None:
    command = [sys.executable, str(MAIN_SCRIPT), "--memory-run", *(["--quick"] if quick else [])]
    subprocess.run(command, check=True, cwd=ROOT)  # noqa: S603 - this interpreter, this file
