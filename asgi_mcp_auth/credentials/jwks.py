"""`JWKSClient`: verification keys from an identity provider's JWKS endpoint (`JWKS_URL`).

Trust assumptions: the JWKS URL is configured by the operator and never taken from a token
(`jku`, `x5u` and embedded `jwk` headers are ignored); everything in a token's header is
attacker-controlled, so an unknown `kid` may cause at most one fetch per refresh cooldown.

- Fetched with `httpx.AsyncClient` (never blocking the event loop: the TLS context, whose
  certificate loading takes tens of milliseconds, is built once, in a worker thread), without following redirects,
  with an overall deadline, reading at most `max_bytes` of the response.
- Cached for `cache_ttl` seconds. A token naming an unknown `kid` triggers a refresh, at most one
  fetch attempt per `refresh_cooldown` seconds whatever the reason; concurrent misses share it.
- A failed fetch keeps the last good keys and is logged (URL without query, never a token).
- Only keys fitting the configured algorithms are used: RSA keys for RS*/PS*, EC keys for the
  ES* algorithm of their curve, OKP keys for EdDSA, a key's own `alg` when it states one. `oct`
  (HMAC) keys, private keys and keys for another `use` are never used (no key confusion).
- Every failure surfaces to a request as `AuthenticationError` (401 invalid_token).
- `fetches` and `fetch_failures` count the attempts and the failed ones (for metrics).
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ..core.algorithms import HMAC_ALGORITHMS, PUBLIC_KEY_ALGORITHMS
from ..core.errors import AuthenticationError, ConfigurationError
from ..settings import AuthSettings

__all__ = ["JWKSClient", "JWKSError"]

logger = logging.getLogger("asgi_mcp_auth.jwks")
LOG_FETCH_FAILED = "JWKS fetch from %s failed (%s); still using the last good keys (%d)"
LOG_KEYS_SKIPPED = "JWKS from %s: %d of %d keys skipped (type, curve, alg or use does not fit the algorithms)"
LOG_KEYS_REMOVED = "JWKS from %s: signing keys were removed; verified-token caches are cleared"

_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_CURVES: Mapping[str, str] = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
_OKP_CURVES = frozenset({"Ed25519", "Ed448"})
# RFC 7518 §6: members that only private (or symmetric) keys carry.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_PUBLIC_KEY_TYPES = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)


class JWKSError(Exception):
    """The JWKS could not be fetched, or held no usable key. Raised by `prefetch()` only;
    a request sees `AuthenticationError`. The message never holds response content."""


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str | None
    algorithms: frozenset[str]  # the configured algorithms this key may verify
    key: Any


def _fitting_algorithms(jwk: Mapping[str, Any], allowed: frozenset[str]) -> frozenset[str]:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    fits: frozenset[str] = frozenset()
    if kty == "RSA":
        fits = _RSA_ALGORITHMS
    elif kty == "EC" and isinstance(crv, str) and crv in _EC_CURVES:
        fits = frozenset({_EC_CURVES[crv]})
    elif kty == "OKP" and isinstance(crv, str) and crv in _OKP_CURVES:
        fits = frozenset({"EdDSA"})
    declared = jwk.get("alg")
    if declared is not None:
        fits = fits & {declared} if isinstance(declared, str) else frozenset()
    return fits & allowed


def _parse_key(jwk: object, allowed: frozenset[str]) -> _Key | None:
    """A verification key for the allowed algorithms, or None when this JWK must not be used."""
    try:
        return _verification_key(jwk, allowed)
    except Exception:  # members of unexpected JSON types: the key is not understood, so not used
        return None


def _verification_key(jwk: object, allowed: frozenset[str]) -> _Key | None:
    if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & jwk.keys():
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        return None
    algorithms = _fitting_algorithms(jwk, allowed)
    if not algorithms:
        return None
    key = jwt.PyJWK(jwk, algorithm=min(algorithms)).key
    return _Key(kid, algorithms, key) if isinstance(key, _PUBLIC_KEY_TYPES) else None


def _loggable(url: str) -> str:
    # Scheme, host, port and path only: a query or user info may hold a secret.
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


class JWKSClient:
    """Resolves a token header to a verification key from a JWKS (a `verify.KeyResolver`).

    Build once; share it. Call `await prefetch()` from the application's lifespan to load the
    keys before the first request (otherwise the first request fetches them).
    """

    def __init__(
        self,
        url: str,
        *,
        algorithms: Iterable[str],
        cache_ttl: float = 300.0,
        refresh_cooldown: float = 30.0,
        timeout: float = 5.0,
        max_bytes: int = 262_144,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.algorithms = frozenset(algorithms)
        if not self.algorithms or not self.algorithms <= PUBLIC_KEY_ALGORITHMS:
            hmac = sorted(self.algorithms & HMAC_ALGORITHMS)
            raise ConfigurationError(f"A JWKS verifies public-key algorithms only, not {hmac or 'none'}")
        self.url = url
        self.cache_ttl = cache_ttl
        self.refresh_cooldown = refresh_cooldown
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._clock = clock
        self._log_url = _loggable(url)
        self._keys: tuple[_Key, ...] = ()
        self._published: frozenset[str] = frozenset()  # canonical JSON of the keys in use
        self._loaded_at: float | None = None
        self._last_attempt: float | None = None
        self.fetches = 0
        self.fetch_failures = 0
        self._lock = anyio.Lock()
        self._tls: ssl.SSLContext | None = None
        self._removal_callbacks: list[Callable[[], None]] = []

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, *, url: str | None = None, algorithms: Iterable[str] | None = None
    ) -> JWKSClient:
        """The client for `JWKS_URL` (or `url`, one issuer's), with the `JWKS_*` limits."""
        url = url if url is not None else settings.jwks_url
        if url is None:
            raise ConfigurationError("MCP_AUTH_JWKS_URL is not set")
        return cls(
            url,
            algorithms=algorithms if algorithms is not None else settings.jwt_algorithms,
            cache_ttl=settings.jwks_cache_ttl_seconds,
            refresh_cooldown=settings.jwks_refresh_cooldown_seconds,
            timeout=settings.jwks_timeout_seconds,
            max_bytes=settings.jwks_max_bytes,
        )

    def __repr__(self) -> str:
        return f"JWKSClient(url={self._log_url!r}, keys={len(self._keys)})"

    def on_keys_removed(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever a refresh drops a key that was published before (rotation,
        revocation). The `Authenticator` clears its verified-token cache this way."""
        self._removal_callbacks.append(callback)

    async def prefetch(self) -> None:
        """Fetch the key set now. Raises `JWKSError` when that fails (keys stay as they were)."""
        async with self._lock:
            await self._fetch()

    async def key_for(self, header: Mapping[str, Any]) -> Any:
        """The key that verifies a token with this (unverified) header.

        Raises `AuthenticationError` when the header names an algorithm not configured, a `kid`
        that is not a string, or no single published key fits it, including after a refresh.
        """
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AuthenticationError("Invalid token")
        kid = header.get("kid")
        if "kid" in header and not isinstance(kid, str):
            raise AuthenticationError("Invalid token")
        refreshed = False
        if self._loaded_at is None or self._clock() - self._loaded_at >= self.cache_ttl:
            refreshed = await self._refresh()
        candidates = self._candidates(kid, alg)
        if not candidates and not refreshed:
            await self._refresh()
            candidates = self._candidates(kid, alg)
        if len(candidates) != 1:
            # None: unknown kid. Several: a token without kid and several keys, or a duplicated kid.
            raise AuthenticationError("Unknown signing key" if not candidates else "Ambiguous signing key")
        return candidates[0].key

    def _candidates(self, kid: str | None, alg: str) -> list[_Key]:
        return [key for key in self._keys if alg in key.algorithms and (kid is None or key.kid == kid)]

    async def _refresh(self) -> bool:
        """Fetch unless the cooldown forbids it; True when a fetch was attempted (by this call or
        by a concurrent one it waited for)."""
        attempts = self.fetches
        async with self._lock:
            if self.fetches != attempts:
                return True
            if self._last_attempt is not None and self._clock() - self._last_attempt < self.refresh_cooldown:
                return False
            try:
                await self._fetch()
            except JWKSError as exc:
                logger.warning(LOG_FETCH_FAILED, self._log_url, exc, len(self._keys))
            return True

    async def _fetch(self) -> None:
        self._last_attempt = self._clock()
        try:
            keys, published = self._parse(await self._download())
        except JWKSError:
            self.fetch_failures += 1
            raise
        finally:
            self.fetches += 1
        removed = self._published - published
        self._keys, self._published, self._loaded_at = keys, published, self._clock()
        if removed:
            logger.info(LOG_KEYS_REMOVED, self._log_url)
            for callback in self._removal_callbacks:
                callback()

    async def _tls_context(self) -> ssl.SSLContext:
        # httpx builds a fresh context per client, loading the CA bundle on the event loop.
        if self._tls is None:
            self._tls = await anyio.to_thread.run_sync(ssl.create_default_context)
        return self._tls

    async def _download(self) -> bytes:
        try:
            # Shielded: a cancelled request must not abandon a fetch that others wait for;
            # the deadline bounds it instead (httpx's timeout is per operation, not overall).
            with anyio.fail_after(self.timeout, shield=True):
                async with (
                    httpx.AsyncClient(
                        verify=await self._tls_context(), follow_redirects=False, timeout=self.timeout
                    ) as client,
                    client.stream(
                        "GET", self.url, headers={"Accept": "application/json", "Accept-Encoding": "identity"}
                    ) as response,
                ):
                    if response.status_code != 200:
                        raise JWKSError(f"HTTP {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_bytes:
                        raise JWKSError(f"response larger than {self.max_bytes} bytes")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise JWKSError(f"response larger than {self.max_bytes} bytes")
                    return bytes(body)
        except JWKSError:
            raise
        except TimeoutError:
            raise JWKSError(f"no complete response within {self.timeout}s") from None
        except Exception as exc:
            # The type only: the text of an httpx error may repeat the URL with its query.
            raise JWKSError(type(exc).__name__) from None

    def _parse(self, body: bytes) -> tuple[tuple[_Key, ...], frozenset[str]]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: deeply nested arrays or objects
            raise JWKSError("response is not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise JWKSError("response is not a JWK set")
        keys: list[_Key] = []
        published: set[str] = set()
        for jwk in document["keys"]:
            key = _parse_key(jwk, self.algorithms)
            if key is not None:
                keys.append(key)
                published.add(json.dumps(jwk, sort_keys=True))
        if len(keys) < len(document["keys"]):
            logger.info(LOG_KEYS_SKIPPED, self._log_url, len(document["keys"]) - len(keys), len(document["keys"]))
        if not keys:
            raise JWKSError("no usable key in the JWK set")
        return tuple(keys), frozenset(published)
