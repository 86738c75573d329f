"""`Authenticator`: the whole decision for one request, in one shared object.

precedence (which credential) -> verification (whose, cached) -> revocation -> identity.
The middleware holds one; fallback code reaches the same one through `get_authenticator()`,
so a request cannot be given two identities by two sets of rules (seed 000).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import Scope

from ..core.errors import AuthenticationError, CredentialsMissing
from ..core.principal import AuthResult, Principal, TokenSource
from ..core.stats import AuthStats
from ..credentials.cache import TokenCache
from ..credentials.issuers import IssuerRouter, verifier_from_settings
from ..credentials.jwks import JWKSClient
from ..credentials.revocation import RevocationStore, store_from_settings
from ..credentials.verifier import TokenVerifier
from ..policy.browser import BrowserPolicy
from ..policy.paths import PathKind, PathRules
from ..policy.precedence import Credential, PrecedencePolicy, canonical_header
from ..policy.rbac import RBACPolicy
from ..settings import AuthSettings
from .context import PRINCIPAL_KEY
from .identity import Identity, identity_of
from .revoking import RevocationLifecycle
from .timing import timed_verify

__all__ = ["AuthenticateCallable", "Authenticator", "Identity", "PathKind", "RevocationCheck"]

logger = logging.getLogger("asgi_mcp_auth.authenticator")

AuthenticateCallable = Callable[[HTTPConnection], Awaitable[object]]
"""A custom authenticator: `async def authenticate(conn) -> Principal | AuthResult | None`."""

RevocationCheck = Callable[[Principal], "bool | Awaitable[bool]"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_ERROR_CHARS = 200


def _public_error(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _CONTROL.sub(" ", value.strip())[:_MAX_ERROR_CHARS]


class Authenticator(RevocationLifecycle):
    """Decides the identity of a request. Build once (at start-up); `authenticate` only reads,
    apart from the verified-token cache."""

    def __init__(
        self,
        *,
        policy: PrecedencePolicy,
        verifier: TokenVerifier | None = None,
        authenticate: AuthenticateCallable | None = None,
        rbac: RBACPolicy | None = None,
        public_paths: Iterable[str] = ("/health",),
        mcp_paths: Iterable[str] = ("/mcp",),
        cache_size: int = 10_000,
        cache_ttl: float = 300.0,
        is_revoked: RevocationCheck | None = None,
        revocation: RevocationStore | None = None,
        settings: AuthSettings | None = None,
    ) -> None:
        if (verifier is None) == (authenticate is None):
            raise TypeError("Authenticator needs exactly one of verifier and authenticate")
        self.policy = policy
        self.verifier = verifier
        self.custom_authenticate = authenticate
        self.rbac = rbac or RBACPolicy()
        self.paths = PathRules(public_paths=public_paths, mcp_paths=mcp_paths)
        self.is_revoked = is_revoked
        self.revocation = revocation if revocation is not None else store_from_settings(settings)
        self.settings = settings
        # Keyed by the header value itself (`Bearer <token>`), so a known token costs one lookup
        # and no parsing; by `(COOKIE, token)` for cookies.
        self.cache: TokenCache[bytes | tuple[TokenSource, str], Identity] = TokenCache(
            maxsize=cache_size, ttl=cache_ttl
        )
        self.stats = AuthStats()  # read by asgi_mcp_auth.integrations.metrics
        for jwks in self._jwks_clients():
            # A key the identity provider withdrew must not keep its tokens alive in the cache.
            jwks.on_keys_removed(self.invalidate_all)

    @classmethod
    def from_settings(
        cls,
        settings: AuthSettings,
        *,
        verifier: TokenVerifier | None = None,
        authenticate: AuthenticateCallable | None = None,
        rbac: RBACPolicy | None = None,
        is_revoked: RevocationCheck | None = None,
        revocation: RevocationStore | None = None,
    ) -> Authenticator:
        rbac = rbac or RBACPolicy.from_settings(settings)
        if verifier is None and authenticate is None:
            verifier = verifier_from_settings(settings, rbac=rbac)
        browser = BrowserPolicy(
            origin_paths=settings.browser_origin_paths,
            public_origin=settings.public_origin,
            trusted_origins=settings.trusted_origins,
        )
        policy = PrecedencePolicy(
            browser=browser,
            header_name=settings.header_name,
            cookie_name=settings.cookie_name,
            mode=settings.precedence,
            max_token_bytes=settings.max_token_bytes,
        )
        return cls(
            policy=policy,
            verifier=verifier,
            authenticate=authenticate,
            rbac=rbac,
            public_paths=settings.public_paths,
            mcp_paths=settings.mcp_paths,
            cache_size=settings.token_cache_size,
            cache_ttl=settings.token_cache_ttl_seconds,
            is_revoked=is_revoked,
            revocation=revocation,
            settings=settings,
        )

    def classify(self, scope: Scope) -> PathKind:
        """Whether the request in `scope` is public and whether it is an MCP request, decided on
        the route path (the path without `root_path`, as the router sees it) and, for MCP, the
        raw path and the request's MCP headers too: see `asgi_mcp_auth.policy.paths`."""
        return self.paths.classify(scope)

    async def authenticate(self, scope: Scope, headers: Headers | None = None) -> Identity | None:
        """The identity of the request in `scope`; None for a public path or a CORS preflight.

        Raises an `AuthError` subclass for every refusal. Only an explicit success returns.
        """
        if self.classify(scope).public or self.is_cors_preflight(scope):
            return None
        return await self.identify(scope, headers)

    def is_cors_preflight(self, scope: Scope) -> bool:
        """A real CORS preflight: `OPTIONS` with `Access-Control-Request-Method` and `Origin`, and
        no credential at all. Browsers never send credentials on a preflight (Fetch standard), and
        refusing it would block the real request before it could carry its token; an `OPTIONS`
        that does carry a credential is authenticated as usual."""
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            return False
        seen = {name for name, _ in scope["headers"]}
        if b"access-control-request-method" not in seen or b"origin" not in seen:
            return False
        return b"cookie" not in seen and self.policy.header_name.encode("latin-1") not in seen

    def cached(self, scope: Scope) -> Identity | None:
        """The identity of a request whose header credential is verified and still cached, its
        revocation checked; None when `identify` has more to do (another credential, a custom
        authenticator, an `is_revoked` hook, a store not yet started). Raises what `identify`
        raises for the same request, whose first steps it takes: the same policy, cache and
        revocation store."""
        # Read each time, not once at start-up: a hook set on the instance later must not be
        # skipped by this path.
        if self.custom_authenticate is not None or self.is_revoked is not None or not self._revocation_started:
            return None
        raw = self.policy.header_value(scope)
        if raw is None:
            return None
        identity = self.cache.get(raw)
        if identity is not None:
            self.revocation.check(identity.revocation_key)
        return identity

    async def identify(self, scope: Scope, headers: Headers | None = None) -> Identity:
        """The identity the request's credential proves, whatever its path: for public routes
        that act on the caller's own credential, such as a logout that revokes it. The same
        precedence, verification, cache and revocation check as `authenticate`."""
        if self.custom_authenticate is not None:
            identity = await self._custom(scope)
        else:
            raw = self.policy.header_value(scope)
            if raw is not None:
                identity = self.cache.get(raw) or await self._verified_header(raw)
            else:
                token = self.policy.cookie_token(scope, headers)
                if token is None:
                    raise CredentialsMissing()
                key = (TokenSource.COOKIE, token)
                identity = self.cache.get(key) or await self._verified(key, token, TokenSource.COOKIE)
        await self._check_revocation(identity.revocation_key)
        if self.is_revoked is not None:
            revoked = self.is_revoked(identity.principal)
            if inspect.isawaitable(revoked):
                revoked = await revoked
            if revoked is not False:
                raise AuthenticationError("Token revoked")
        return identity

    async def resolve(self, conn: HTTPConnection | Scope) -> Principal | None:
        """The fallback: the principal the middleware stored, else one decided by this object."""
        scope = conn.scope if isinstance(conn, HTTPConnection) else conn
        if PRINCIPAL_KEY in scope:
            principal: Principal | None = scope[PRINCIPAL_KEY]
            return principal
        identity = await self.authenticate(scope)
        return identity.principal if identity is not None else None

    def invalidate(self, token: str) -> None:
        """Forget a verified token (logout, revocation): its next use is verified again."""
        self.cache.discard((TokenSource.COOKIE, token))
        if token.isascii():  # a header credential always is (token68)
            self.cache.discard(canonical_header(token))

    def invalidate_all(self) -> None:
        """Forget every verified token: each is verified again at its next use."""
        self.cache.clear()

    async def prefetch(self) -> None:
        """Load verification keys from the network now (the JWKS, when `JWKS_URL` is set), so
        the first request does not wait for them; a no-op for other verifiers. Call it from the
        application's lifespan. Raises `jwks.JWKSError` when the fetch fails."""
        for jwks in self._jwks_clients():
            await jwks.prefetch()

    async def aclose(self) -> None:
        """Release the verifier's network clients (introspection keeps one HTTP client for its
        lifetime) and stop the revocation store's background work. Call it from the lifespan shutdown."""
        close = getattr(self.verifier, "aclose", None)
        if close is not None:
            await close()
        await self.revocation.aclose()

    def _jwks_clients(self) -> list[JWKSClient]:
        verifiers = list(self.verifier.members()) if isinstance(self.verifier, IssuerRouter) else [self.verifier]
        resolvers = [getattr(verifier, "key_resolver", None) for verifier in verifiers]
        return [resolver for resolver in resolvers if isinstance(resolver, JWKSClient)]

    async def _verified_header(self, raw: bytes) -> Identity:
        """A header credential the cache does not hold under its raw value: parsed (refused
        when malformed), then found or verified under its canonical value."""
        token = self.policy.header_token(raw)
        key = canonical_header(token)
        identity = self.cache.get(key) if key != raw else None
        return identity or await self._verified(key, token, TokenSource.HEADER)

    async def _verified(self, key: bytes | tuple[TokenSource, str], token: str, source: TokenSource) -> Identity:
        """Verify a credential the cache does not hold; cache the identity when it succeeds."""
        assert self.verifier is not None  # noqa: S101 - guaranteed by __init__
        # A miss is a verification the cache could not spare (a request may look it up twice:
        # `cached`, then `identify`, so misses are not counted by the lookups).
        self.cache.misses += 1
        principal = await timed_verify(self.verifier, Credential(token, source), self.stats)
        credential = key if isinstance(key, bytes) else token  # the key's own object: stored once
        identity = identity_of(principal, credential, token)
        self.cache.put(key, identity, expires_at=principal.expires_at)
        return identity

    async def _custom(self, scope: Scope) -> Identity:
        assert self.custom_authenticate is not None  # noqa: S101 - guaranteed by __init__
        result = await self.custom_authenticate(HTTPConnection(scope))
        principal = self._accepted_principal(result)
        if not principal.permissions:
            principal = self.rbac.bind(principal)
        return identity_of(principal, None, None)

    @staticmethod
    def _accepted_principal(result: object) -> Principal:
        # Only an explicit success authenticates (seed 002): a truthy object is not a success.
        if isinstance(result, Principal):
            return result
        if isinstance(result, AuthResult):
            if result.authenticated is True and isinstance(result.principal, Principal):
                return result.principal
            raise AuthenticationError(_public_error(result.error))
        if isinstance(result, Mapping):
            raise AuthenticationError(_public_error(result.get("error")))
        raise AuthenticationError(_public_error(getattr(result, "error", None)))
