"""Soak: the example gateway under uvicorn with 4 worker processes on 127.0.0.1.

Sends N requests (default 100 000) to `/whoami` from 100 identities, interleaved, half with the
bearer header and half with the session cookie from the `/admin` page, and checks every answer
names the identity that sent it. Reports identity mismatches, 5xx, throughput, and the resident
memory of each worker at the start (after a warm-up) and at the end. Not a test: its figures go
into BENCHMARKS.md.

    .venv/bin/python bench/soak.py [--requests 100000] [--identities 100] [--workers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = "http://127.0.0.1/mcp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def worker_pids(master: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing's resource tracker is a child too)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    workers = []
    for pid in children:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            workers.append(int(pid))
    return sorted(workers)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(f"{base}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def drive(base: str, tokens: list[str], total: int, concurrency: int) -> tuple[int, int, int, int, float]:
    mismatches = errors = done = retried = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal mismatches, errors, done, retried
        for index in counter:
            identity = index % len(tokens)
            if index % 2:
                headers = {"Authorization": f"Bearer {tokens[identity]}"}
            else:
                headers = {
                    "Cookie": f"jwt_token={tokens[identity]}",
                    "Referer": f"{base}/admin",
                    "Sec-Fetch-Site": "same-origin",
                }
            try:
                response = await client.get(f"{base}/whoami", headers=headers)
            except httpx.TransportError:
                # A keep-alive connection the server closed as it was reused: the request never
                # reached the app, so it is sent again on a fresh connection.
                retried += 1
                response = await client.get(f"{base}/whoami", headers=headers)
            done += 1
            if response.status_code >= 500:
                errors += 1
            elif response.status_code != 200 or response.json()["sub"] != f"user-{identity}":
                mismatches += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return done, mismatches, errors, retried, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--identities", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    secret = secrets.token_urlsafe(48)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    exp = int(time.time()) + 3600
    tokens = [
        jwt.encode({"sub": f"user-{i}", "aud": AUDIENCE, "exp": exp, "roles": ["viewer"]}, secret)
        for i in range(args.identities)
    ]
    env = {**os.environ, "MCP_AUTH_JWT_SECRET": secret, "MCP_AUTH_JWT_AUDIENCE": AUDIENCE}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "examples.fastapi_app.main:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - fixed command line
    try:
        asyncio.run(wait_ready(base))
        warmup = min(2_000, args.requests)
        asyncio.run(drive(base, tokens, warmup, args.concurrency))
        pids = worker_pids(server.pid)
        start_rss = {pid: rss_mib(pid) for pid in pids}
        done, mismatches, errors, retried, seconds = asyncio.run(drive(base, tokens, args.requests, args.concurrency))
        end_rss = {pid: rss_mib(pid) for pid in pids}
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"workers: {len(pids)}; identities: {args.identities}; concurrency: {args.concurrency}")
    print(f"requests: {done} (half header, half cookie) in {seconds:.1f} s = {done / seconds:,.0f} req/s")
    print(f"identity mismatches: {mismatches}")
    print(f"5xx responses: {errors}")
    print(f"requests re-sent after a closed keep-alive connection: {retried}")
    for pid in pids:
        print(f"worker {pid}: RSS {start_rss[pid]:.1f} MiB at start, {end_rss[pid]:.1f} MiB at end")
    if mismatches or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
