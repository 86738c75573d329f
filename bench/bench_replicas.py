"""How long until every replica refuses a revoked token. Not a test.

    .venv/bin/python bench/bench_replicas.py              # `make bench-replicas`: 1000 revocations
    .venv/bin/python bench/bench_replicas.py --revocations 200

Starts a redis-server and three replicas of the example gateway (uvicorn, one process each, as
`python -m examples.replicas` does), signs N tokens with the replicas' shared key and makes
every replica cache every token (the case a per-process cache gets wrong). Then, one at a time,
it revokes each token through the example's logout on replica `i % 3` and asks all three
replicas `GET /whoami` with it, concurrently and over and over, until each answers 401. The time
from sending the logout to the last replica's first 401 is one sample; it includes the logout's
own round trip, and is measured in steps of one probe round (three requests on this machine).
Replicas run with the default `REVOCATION_POLL_SECONDS` (5 s): what is measured is the pub/sub
path; the poll only catches what that path missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx
import jwt

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-ABCDEF"
AUDIENCE = "http://127.0.0.1/mcp"
GIVE_UP = 30.0  # seconds for one token before the run is declared failed


def make_token(number: int) -> str:
    now = int(time.time())
    claims = {"sub": f"user{number}", "aud": AUDIENCE, "iat": now, "exp": now + 3600, "roles": ["viewer"]}
    return jwt.encode({**claims, "jti": secrets.token_hex(8)}, SECRET, algorithm="HS256")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run(revocations: int) -> None:
    from examples.replicas import RedisServer, Replica, replica_environment

    tokens = [make_token(number) for number in range(revocations)]
    with RedisServer() as redis_server:
        env = replica_environment(redis_server.url, secret=SECRET, audience=AUDIENCE)
        replicas = [Replica(env).launch() for _ in range(3)]
        try:
            for replica in replicas:
                replica.wait_ready()
            urls = [replica.url for replica in replicas]
            limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
            async with httpx.AsyncClient(timeout=10, limits=limits) as http:
                gate = asyncio.Semaphore(12)

                async def warm(url: str, token: str) -> int:
                    async with gate:
                        return (
                            await http.get(f"{url}/whoami", headers={"Authorization": f"Bearer {token}"})
                        ).status_code

                warmed = await asyncio.gather(*(warm(url, token) for url in urls for token in tokens))
                if set(warmed) != {200}:
                    raise SystemExit(f"warm-up: statuses {sorted(set(warmed))}")
                samples, rounds = [], []
                for number, token in enumerate(tokens):
                    sample, probes = await one_revocation(http, urls, number % 3, token)
                    samples.append(sample)
                    rounds.append(probes)
        finally:
            for replica in replicas:
                replica.stop()
    ms = [sample * 1000 for sample in samples]
    print(f"revocations: {revocations}, round-robin over 3 replicas, every token cached on every replica")
    print(f"time until every replica refuses (ms): p50 {percentile(ms, 0.5):.1f}  p99 {percentile(ms, 0.99):.1f}  "
          f"max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}")  # fmt: skip
    print(f"probe rounds per revocation: median {statistics.median(rounds):.0f}, max {max(rounds)}")
    within = sum(sample <= 0.1 for sample in samples)
    print(f"within 100 ms: {within} of {revocations}")


async def one_revocation(http: httpx.AsyncClient, urls: list[str], via: int, token: str) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    logout = await http.post(f"{urls[via]}/admin/logout", headers=headers)
    if logout.status_code != 303:
        raise SystemExit(f"logout on {urls[via]} answered {logout.status_code}")
    pending = list(urls)
    probes = 0
    while pending:
        probes += 1
        answers = await asyncio.gather(*(http.get(f"{url}/whoami", headers=headers) for url in pending))
        pending = [url for url, answer in zip(pending, answers, strict=True) if answer.status_code != 401]
        if pending and time.perf_counter() - started > GIVE_UP:
            raise SystemExit(f"still accepted after {GIVE_UP} s by {sorted(pending)}")
    return time.perf_counter() - started, probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--revocations", type=int, default=1000)
    args = parser.parse_args()
    print("# asgi-mcp-auth replica propagation benchmark")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    started = time.perf_counter()
    asyncio.run(run(args.revocations))
    print(f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
