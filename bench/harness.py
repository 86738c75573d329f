"""What every benchmark case shares: tokens, the apps compared, and the timing loop.

Figures are the minimum over repeats of the median over batches, the variants interleaved, so
that drift on a shared machine hits all of them alike."""

from __future__ import annotations

import gc
import os
import platform
import socket
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware, auth_context_var
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asgi_mcp_auth import AuthSettings, MCPAuthMiddleware
from asgi_mcp_auth.pipeline.context import AUTHENTICATOR_KEY, PRINCIPAL_KEY, _principal

ROOT = Path(__file__).resolve().parent.parent
MAIN_SCRIPT = Path(__file__).resolve().with_name("bench_overhead.py")
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


class FloorMiddleware:
    """What any middleware that stores an identity as this one does must spend per request:
    the scope writes, the principal's and the SDK's ContextVars set and reset, and a `send`
    that notes when the response starts. With a fixed identity: no lookup at all."""

    def __init__(self, app: ASGIApp, identity: Any) -> None:
        self.app, self.identity = app, identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        identity = self.identity
        scope[AUTHENTICATOR_KEY] = self
        scope[PRINCIPAL_KEY] = identity.principal
        scope["user"], scope["auth"] = identity.user, identity.auth
        token, sdk_token = _principal.set(identity.principal), auth_context_var.set(identity.user)
        started = False

        def tracking_send(message: Message) -> Awaitable[None]:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            return send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            auth_context_var.reset(sdk_token)
            _principal.reset(token)


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib() -> tuple[int, int]:
    """(current, peak) resident set size of this process, KiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
