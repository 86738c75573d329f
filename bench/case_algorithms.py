"""Case 4: a new token's cost per algorithm (HS256, RS256, ES256, EdDSA), with a static key and
with keys from a JWKS served on 127.0.0.1, next to the SDK's auth stack and `jwt.decode` alone.

Every variant verifies a token it has not seen (the verified-token cache never answers), with
the same checks: pinned algorithm, `exp`, `aud`, `sub`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from harness import AUDIENCE, SECRET, Headers, Plan, Variant, app_variant, bare_app, measure_all, request_headers
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp

from asgi_mcp_auth import AuthSettings, MCPAuthMiddleware

ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")
OPTIONS: Any = {"require": ["exp", "sub"]}


def signing_key(alg: str) -> tuple[Any, Any]:
    """(private key for signing, public key or secret for verifying)."""
    if alg == "HS256":
        return SECRET, SECRET
    private: Any
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return private, private.public_key()


def pem(public: Any) -> str:
    return str(
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    )


@contextmanager
def jwks_server(alg: str, public: Any) -> Iterator[str]:
    """A JWKS endpoint on 127.0.0.1 holding `public` under kid "k1"; yields its URL."""
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(public))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": alg, "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()


def token_factory(alg: str, private: Any, kid: str | None) -> Callable[[str], str]:
    headers = {"kid": kid} if kid else None

    def make(sub: str) -> str:
        now = int(time.time())
        claims = {"sub": sub, "aud": AUDIENCE, "iat": now, "exp": now + 3600, "roles": ["developer"], "jti": sub}
        return jwt.encode(claims, private, algorithm=alg, headers=headers)

    return make


def pool(make: Callable[[str], str], count: int, prefix: str) -> Callable[[int], Sequence[Headers]]:
    tokens = iter([request_headers(make(f"{prefix}-{i:07d}")) for i in range(count)])
    return lambda size: [next(tokens) for _ in range(size)]


class SDKVerifier:
    """The SDK's `TokenVerifier` protocol with PyJWT and this middleware's checks."""

    def __init__(self, alg: str, key: Any) -> None:
        self.alg, self.key = alg, key

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = jwt.decode(token, self.key, algorithms=[self.alg], audience=AUDIENCE, options=OPTIONS)
        except jwt.PyJWTError:
            return None
        return AccessToken(token=token, client_id=claims["sub"], scopes=[], expires_at=claims["exp"], claims=claims)


def sdk_stack(alg: str, key: Any) -> ASGIApp:
    inner = AuthContextMiddleware(RequireAuthMiddleware(bare_app, required_scopes=[]))
    return AuthenticationMiddleware(inner, backend=BearerAuthBackend(SDKVerifier(alg, key)))


def ours(alg: str, public: Any, jwks_url: str | None = None) -> MCPAuthMiddleware:
    keys: dict[str, Any]
    if jwks_url is not None:
        keys = {"jwks_url": jwks_url}
    elif alg == "HS256":
        keys = {"jwt_secret": SECRET}
    else:
        keys = {"jwt_public_key": pem(public)}
    return MCPAuthMiddleware(
        bare_app, settings=AuthSettings(**keys, jwt_algorithms=alg, jwt_audience=AUDIENCE, token_cache_size=0)
    )


def decoder(alg: str, key: Any, take: Callable[[int], Sequence[Headers]]) -> Callable[[int], Awaitable[float]]:
    """`jwt.decode` alone on a batch of `take`'s tokens: seconds per token."""

    async def decode_only(size: int) -> float:
        tokens = [headers[-1][1][len(b"Bearer ") :].decode() for headers in take(size)]
        start = time.perf_counter()
        for token in tokens:
            jwt.decode(token, key, algorithms=[alg], audience=AUDIENCE, options=OPTIONS)
        return (time.perf_counter() - start) / len(tokens)

    return decode_only


async def algorithms_section(quick: bool) -> None:
    repeats = 3 if quick else 5
    plan = Plan(batch=300, batches=5) if quick else Plan(batch=1_000, batches=7)
    count = min(plan.batch, 500) + plan.batch * plan.batches * repeats
    print("\n## 4. A new token per algorithm: per-request time, raw ASGI calls in one process")
    print(f"(min over {repeats} repeats of the median over batches of {plan.batch}; cache disabled: every token new)\n")
    print(
        f"{'algorithm':8s} {'static key':>11s} {'JWKS':>11s} {'SDK stack':>11s} {'jwt.decode':>11s}"
        f" {'static/SDK':>11s} {'static/decode':>14s} {'JWKS/static':>12s}"
    )
    for alg in ALGORITHMS:
        private, public = signing_key(alg)
        plain = token_factory(alg, private, None)
        with_kid = token_factory(alg, private, "k1")

        variants = [
            app_variant("static", ours(alg, public), plan, pool(plain, count, "static")),
            app_variant("sdk", sdk_stack(alg, public), plan, pool(plain, count, "sdk")),
            Variant("decode", plan, decoder(alg, public, pool(plain, count, "decode"))),
        ]
        if alg != "HS256":
            with jwks_server(alg, public) as url:
                jwks_app = ours(alg, public, url)
                await jwks_app.authenticator.prefetch()
                variants.insert(1, app_variant("jwks", jwks_app, plan, pool(with_kid, count, "jwks")))
                results = await measure_all(variants, repeats)
        else:
            results = await measure_all(variants, repeats)
        static, sdk, decode = results["static"], results["sdk"], results["decode"]
        jwks = results.get("jwks")
        jwks_text = f"{jwks * 1e6:8.1f} us" if jwks else f"{'-':>11s}"
        jwks_ratio = f"{jwks / static:12.2f}" if jwks else f"{'-':>12s}"
        print(
            f"{alg:8s} {static * 1e6:8.1f} us {jwks_text} {sdk * 1e6:8.1f} us {decode * 1e6:8.1f} us"
            f" {static / sdk:11.2f} {static / decode:14.2f} {jwks_ratio}"
        )
    print("\ngoals (issue: closer to the floor): static/decode < 1 for every algorithm; JWKS/static <= 1.1")
