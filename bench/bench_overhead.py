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
4. A new token per algorithm (HS256, RS256, ES256, EdDSA), static key and JWKS on 127.0.0.1,
   next to the SDK stack and `jwt.decode` alone (`bench/case_algorithms.py`).
5. The MCP POST path: the method check per JSON-RPC body shape (small, 100 KB flat, 100 KB
   nested), next to a GET and to `pydantic_core.from_json` of the same body (`bench/case_mcp_bodies.py`).
6. The warm path with the in-process and the Redis revocation store (`bench/case_revocation.py`;
   starts its own redis-server).
7. The warm path with metrics: no exporter, a Prometheus collector, OpenTelemetry instruments,
   and what counting itself costs (`bench/case_metrics.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from case_algorithms import algorithms_section  # noqa: E402
from case_end_to_end import end_to_end_section, serve  # noqa: E402
from case_mcp_bodies import mcp_bodies_section  # noqa: E402
from case_memory import memory_run, memory_section  # noqa: E402
from case_metrics import metrics_section  # noqa: E402
from case_overhead import overhead_section  # noqa: E402
from case_revocation import revocation_section  # noqa: E402
from harness import machine  # noqa: E402


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations and a smaller memory run")
    parser.add_argument("--skip-algorithms", action="store_true", help="skip the per-algorithm runs")
    parser.add_argument("--skip-mcp", action="store_true", help="skip the MCP body runs")
    parser.add_argument("--skip-revocation", action="store_true", help="skip the revocation-store runs")
    parser.add_argument("--skip-metrics", action="store_true", help="skip the metrics runs")
    parser.add_argument(
        "--metrics-baseline", metavar="REF", help="also time the package at this git ref (without counters) in case 7"
    )
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
    if not args.skip_algorithms:
        asyncio.run(algorithms_section(args.quick))
    if not args.skip_mcp:
        asyncio.run(mcp_bodies_section(args.quick))
    if not args.skip_revocation:
        asyncio.run(revocation_section(args.quick))
    if not args.skip_metrics:
        asyncio.run(metrics_section(args.quick, args.metrics_baseline))
    if not args.skip_e2e:
        end_to_end_section(args.quick)
    if not args.skip_memory:
        sys.stdout.flush()
        memory_section(args.quick)
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
