"""Case 2: requests per second of the example gateway under uvicorn, with the middleware and
with a stub that sets the same principal."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import cast

from harness import AUDIENCE, MAIN_SCRIPT, PATH, ROOT, SECRET, free_port, make_token
from starlette.types import ASGIApp, Receive, Scope, Send

from asgi_mcp_auth import (
    PRINCIPAL_KEY,
    AuthSettings,
    Credential,
    JWTVerifier,
    MCPAuthMiddleware,
    Principal,
    TokenSource,
)


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
            [sys.executable, str(MAIN_SCRIPT), "--serve", mode, "--port", port], cwd=ROOT, stdout=log, stderr=log
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
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    print(f"\n## 2. End to end: GET {PATH} of the example gateway, uvicorn (1 worker, {loop}, {parser}) on 127.0.0.1\n")
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
    verdict = "MET" if ratio >= 0.95 else "MISSED"
    print(f"{'throughput with / without (medians)':40s} {ratio:6.3f}  target >= 0.95  {verdict}")
