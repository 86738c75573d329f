"""`IntrospectionVerifier`: opaque tokens checked at the authorization server (RFC 7662).

Trust assumptions: the introspection URL is configured by the operator, never taken from a
token; the answer is trusted only as far as RFC 7662 and RFC 8707 let it be:

- `active` must be exactly `true` (not `"true"`, not `1`); anything else is an invalid token.
- `aud` must contain this resource (RFC 8707) unless audience checks are turned off; an
  `iss`, when the answer has one and an issuer is configured, must equal it.
- `exp`, when present, must be a number in the future; it bounds how long the answer is reused.
- No `sub` (optional in RFC 7662): the principal is identified by `client_id`, else `username`.
- A non-200 answer whose JSON body says `{"active": false}` is an invalid token (401); every
  other failure to get an answer (refused connection, timeout, 5xx, a body that is not JSON,
  our client credentials refused) is an outage: `ServiceUnavailable` (503 with `Retry-After`),
  never a 401 that would make clients throw their tokens away, never a 500.

Load on the authorization server is bounded: an accepted token is remembered until the earlier
of its `exp` and `cache_ttl`; a refused one for `negative_ttl` seconds; concurrent requests with
one new token share one call (single flight); at most `max_concurrent` calls run at once; and
refusals spend a small budget (`refusal_burst`, refilled at `refusal_rate` per second) so a flood
of distinct garbage tokens costs at most a few calls: while the budget is spent, tokens not seen
before are answered 503 (tokens already accepted keep working from the cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Literal

import anyio
import httpx

from ..core.errors import AuthenticationError, ConfigurationError, ServiceUnavailable
from ..core.principal import Principal, TokenSource
from ..policy.precedence import Credential
from ..settings import AuthSettings
from .cache import TokenCache
from .claims import ClaimsMapper
from .introspection_answer import accepted_claims

__all__ = ["IntrospectionVerifier"]

logger = logging.getLogger("asgi_mcp_auth.introspection")
LOG_OUTAGE = "Token introspection at %s failed (%s)"

AuthMethod = Literal["client_secret_basic", "client_secret_post"]


class _Flight:
    """One introspection call that concurrent requests with the same token wait for."""

    __slots__ = ("done", "error", "principal")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.principal: Principal | None = None
        self.error: Exception | None = None


def _loggable(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


class IntrospectionVerifier:
    """A `TokenVerifier` that asks the authorization server about each new token (RFC 7662).

    Build once at start-up and share it: it keeps one `httpx.AsyncClient` (made on first use,
    closed by `aclose()`), its caches and its budget. See the module docstring for what it
    accepts and how it bounds the load it puts on the authorization server.
    """

    def __init__(
        self,
        url: str,
        *,
        audience: str | None,
        verify_audience: bool = True,
        issuer: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        auth_method: AuthMethod = "client_secret_basic",
        timeout: float = 5.0,
        retry_after: int = 5,
        cache_ttl: float = 300.0,
        cache_size: int = 10_000,
        negative_ttl: float = 30.0,
        max_concurrent: int = 8,
        refusal_burst: int = 10,
        refusal_rate: float = 2.0,
        max_response_bytes: int = 65_536,
        claims_mapper: Callable[[Mapping[str, Any], TokenSource], Principal] | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError("MCP_AUTH_INTROSPECTION_URL must be an http(s) URL")
        if verify_audience and not audience:
            raise ConfigurationError("MCP_AUTH_JWT_AUDIENCE is required to check the audience of introspected tokens")
        if (client_id is None) != (client_secret is None):
            raise ConfigurationError(
                "Set both MCP_AUTH_INTROSPECTION_CLIENT_ID and MCP_AUTH_INTROSPECTION_CLIENT_SECRET, or neither"
            )
        if auth_method not in ("client_secret_basic", "client_secret_post"):
            raise ConfigurationError("MCP_AUTH_INTROSPECTION_AUTH_METHOD is client_secret_basic or client_secret_post")
        self.url = url
        self.audience = audience if verify_audience else None
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.auth_method = auth_method
        self.timeout = timeout
        self.retry_after = retry_after
        self.negative_ttl = negative_ttl
        self.max_response_bytes = max_response_bytes
        self.claims_mapper = claims_mapper or ClaimsMapper()
        self._clock = clock
        self._transport = transport
        self._log_url = _loggable(url)
        self._accepted: TokenCache[bytes, Principal] = TokenCache(maxsize=cache_size, ttl=cache_ttl, clock=clock)
        self._refused: TokenCache[bytes, AuthenticationError] = TokenCache(
            maxsize=cache_size, ttl=negative_ttl, clock=clock
        )
        self._flights: dict[bytes, _Flight] = {}
        self._limiter = anyio.CapacityLimiter(max_concurrent)
        self._refusal_burst = float(refusal_burst)
        self._refusal_rate = refusal_rate
        self._budget = float(refusal_burst)
        self._budget_at = clock()
        self._client: httpx.AsyncClient | None = None
        self.calls = 0  # introspection requests sent (for tests and metrics)
        self.failures = 0  # those of them that got no usable answer: an outage, answered 503

    @classmethod
    def from_settings(
        cls,
        settings: AuthSettings,
        *,
        claims_mapper: Callable[[Mapping[str, Any], TokenSource], Principal] | None = None,
    ) -> IntrospectionVerifier:
        if settings.introspection_url is None:
            raise ConfigurationError("MCP_AUTH_INTROSPECTION_URL is not set")
        secret = settings.introspection_client_secret
        return cls(
            settings.introspection_url,
            audience=settings.jwt_audience,
            verify_audience=settings.jwt_verify_audience,
            issuer=settings.jwt_issuer,
            client_id=settings.introspection_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            auth_method=settings.introspection_auth_method,
            timeout=settings.introspection_timeout_seconds,
            retry_after=settings.introspection_retry_after_seconds,
            cache_ttl=settings.introspection_cache_ttl_seconds,
            cache_size=settings.token_cache_size,
            negative_ttl=settings.introspection_negative_ttl_seconds,
            claims_mapper=claims_mapper,
        )

    def __repr__(self) -> str:
        return f"IntrospectionVerifier(url={self._log_url!r}, client_id={self.client_id!r})"

    async def aclose(self) -> None:
        """Close the HTTP client (call from the application's lifespan shutdown)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def verify(self, credential: Credential) -> Principal:
        key = hashlib.sha256(credential.token.encode()).digest()  # never keep many tokens in memory
        principal = self._accepted.get(key)
        if principal is not None:
            return self._with_source(principal, credential.source)
        refused = self._refused.get(key)
        if refused is not None:
            raise AuthenticationError(refused.message)
        flight = self._flights.get(key)
        if flight is None:
            flight = _Flight()
            self._flights[key] = flight
            try:
                flight.principal = await self._introspect(key, credential)
            except Exception as exc:
                flight.error = exc
            finally:
                del self._flights[key]
                flight.done.set()
        else:
            await flight.done.wait()
        if flight.error is not None:
            raise _copy(flight.error)
        assert flight.principal is not None  # noqa: S101 - set when there is no error
        return self._with_source(flight.principal, credential.source)

    async def _introspect(self, key: bytes, credential: Credential) -> Principal:
        async with self._limiter:
            if not self._spend_budget():
                raise ServiceUnavailable("Too many unknown tokens; try again shortly", retry_after=self.retry_after)
            try:
                principal = self._principal(await self._ask(credential.token), credential.source)
            except AuthenticationError as error:
                self._refused.put(key, error, expires_at=None)
                raise
            self._refund_budget()
            self._accepted.put(key, principal, expires_at=principal.expires_at)
            return principal

    def _spend_budget(self) -> bool:
        now = self._clock()
        self._budget = min(self._refusal_burst, self._budget + (now - self._budget_at) * self._refusal_rate)
        self._budget_at = now
        if self._budget < 1:
            return False
        self._budget -= 1
        return True

    def _refund_budget(self) -> None:
        # Only refusals spend the budget: an accepted token gives its unit back.
        self._budget = min(self._refusal_burst, self._budget + 1)

    async def _ask(self, token: str) -> Mapping[str, Any]:
        """The introspection answer as a JSON object; `ServiceUnavailable` when there is none."""
        data = {"token": token, "token_type_hint": "access_token"}
        auth: httpx.BasicAuth | None = None
        if self.client_id is not None and self._client_secret is not None:
            if self.auth_method == "client_secret_basic":
                auth = httpx.BasicAuth(self.client_id, self._client_secret)
            else:
                data |= {"client_id": self.client_id, "client_secret": self._client_secret}
        self.calls += 1
        try:
            # Shielded: requests waiting on this flight must not lose it to one cancelled
            # request; the overall deadline bounds it instead (httpx's timeout is per operation).
            with anyio.fail_after(self.timeout, shield=True):
                status, body = await self._post(data, auth)
        except ServiceUnavailable:
            raise
        except TimeoutError:
            raise self._outage(f"no answer within {self.timeout}s") from None
        except Exception as exc:
            # The type only: an httpx error's text may repeat the URL with its query.
            raise self._outage(type(exc).__name__) from None
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            answer = None
        if status != 200:
            if isinstance(answer, dict) and answer.get("active") is False:
                raise AuthenticationError("Invalid token")  # some servers answer 4xx for inactive tokens
            raise self._outage(f"HTTP {status}")
        if not isinstance(answer, dict):
            raise self._outage("answer is not a JSON object")
        return answer

    async def _post(self, data: dict[str, str], auth: httpx.BasicAuth | None) -> tuple[int, bytes]:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, timeout=self.timeout, transport=self._transport)
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        request = self._client.build_request("POST", self.url, data=data, headers=headers)
        if auth is not None:
            request = next(auth.auth_flow(request))
        response = await self._client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise self._outage(f"answer larger than {self.max_response_bytes} bytes")
            return response.status_code, bytes(body)
        finally:
            await response.aclose()

    def _outage(self, reason: str) -> ServiceUnavailable:
        self.failures += 1
        logger.warning(LOG_OUTAGE, self._log_url, reason)
        return ServiceUnavailable(retry_after=self.retry_after)

    def _principal(self, answer: Mapping[str, Any], source: TokenSource) -> Principal:
        claims = accepted_claims(answer, audience=self.audience, issuer=self.issuer, now=self._clock())
        return self.claims_mapper(claims, source)

    @staticmethod
    def _with_source(principal: Principal, source: TokenSource) -> Principal:
        return principal if principal.token_source is source else replace(principal, token_source=source)


def _copy(error: Exception) -> Exception:
    # Each waiter raises its own exception object: one shared instance would collect the
    # tracebacks of every request that re-raised it.
    if isinstance(error, ServiceUnavailable):
        return ServiceUnavailable(error.message, retry_after=error.retry_after)
    if isinstance(error, AuthenticationError):
        return type(error)(error.message)
    return error
