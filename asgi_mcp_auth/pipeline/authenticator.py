"""`Authenticator`: the whole decision for one request, in one shared object.

precedence (which credential) -> verification (whose, cached) -> revocation -> identity.
The middleware holds one; fallback code reaches the same one through `get_authenticator()`,
so a request cannot be given two identities by two sets of rules (seed 000).
"""

from __future__ import annotations

import inspect
import logging
import posixpath
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from starlette.authentication import AuthCredentials, BaseUser
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import Scope

from ..core.errors import AuthenticationError, CredentialsMissing
from ..core.principal import AuthResult, Principal, TokenSource
from ..credentials.cache import TokenCache
from ..credentials.jwks import JWKSClient
from ..credentials.jwt import JWTVerifier
from ..credentials.revocation import Revocation, RevocationKey, RevocationStore, revocation_key, store_from_settings
from ..credentials.verifier import TokenVerifier
from ..policy.browser import BrowserPolicy
from ..policy.precedence import Credential, PrecedencePolicy
from ..policy.rbac import RBACPolicy
from ..settings import AuthSettings
from .context import PRINCIPAL_KEY
from .users import make_user

__all__ = ["AuthenticateCallable", "Authenticator", "Identity", "PathKind", "RevocationCheck"]

logger = logging.getLogger("asgi_mcp_auth.authenticator")

AuthenticateCallable = Callable[[HTTPConnection], Awaitable[object]]
"""A custom authenticator: `async def authenticate(conn) -> Principal | AuthResult | None`."""

RevocationCheck = Callable[[Principal], "bool | Awaitable[bool]"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH_MEMO_SIZE = 4096
_PATH_MEMO_MAX_CHARS = 256
_MAX_ERROR_CHARS = 200


class PathKind(NamedTuple):
    """How the middleware treats a request path."""

    public: bool  # no credential needed
    mcp: bool  # a JSON-RPC endpoint: permission checks per method, JSON-RPC error bodies


@dataclass(frozen=True, slots=True)
class Identity:
    """What the middleware writes into the scope for an authenticated request."""

    principal: Principal
    user: BaseUser
    auth: AuthCredentials
    token: str | None
    revocation_key: RevocationKey


def _public_error(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _CONTROL.sub(" ", value.strip())[:_MAX_ERROR_CHARS]


def _clean_path(path: str) -> str:
    """Collapse `//`, resolve dot segments and fold case: how a lenient router might see it."""
    normalised = posixpath.normpath("/" + path.lstrip("/")).lower()
    return normalised.replace("//", "/")


class Authenticator:
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
        self.public_paths = frozenset(path.rstrip("/") or "/" for path in public_paths)
        self.mcp_paths = tuple(_clean_path(path).rstrip("/") for path in mcp_paths)
        self._path_kinds: dict[str, PathKind] = {}
        self.is_revoked = is_revoked
        self.revocation = revocation if revocation is not None else store_from_settings(settings)
        self._revocation_started = False
        self.settings = settings
        self.cache: TokenCache[tuple[TokenSource, str], Identity] = TokenCache(maxsize=cache_size, ttl=cache_ttl)
        jwks = self._jwks_client()
        if jwks is not None:
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
            verifier = JWTVerifier.from_settings(settings, rbac=rbac)
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

    def is_public(self, path: str) -> bool:
        """Exact match (a trailing slash aside); a path with dot segments is never public."""
        if "\\" in path or any(segment in (".", "..") for segment in path.split("/")):
            return False
        return (path.rstrip("/") or "/") in self.public_paths

    def is_mcp_path(self, path: str) -> bool:
        """Segment match on the path as a lenient router could see it (`//MCP/./` included)."""
        cleaned = _clean_path(path)
        return any(cleaned == mcp or cleaned.startswith(mcp + "/") for mcp in self.mcp_paths)

    def classify(self, path: str) -> PathKind:
        """`is_public(path)` and `is_mcp_path(path)` together, remembered for short paths: the
        per-request fast path (both are pure functions of the path and the configuration)."""
        kind = self._path_kinds.get(path)
        if kind is None:
            kind = PathKind(self.is_public(path), self.is_mcp_path(path))
            if len(path) <= _PATH_MEMO_MAX_CHARS:
                if len(self._path_kinds) >= _PATH_MEMO_SIZE:
                    self._path_kinds.clear()  # many distinct paths (a scan): start over, stay bounded
                self._path_kinds[path] = kind
        return kind

    async def authenticate(self, scope: Scope, headers: Headers | None = None) -> Identity | None:
        """The identity of the request in `scope`; None for a public path.

        Raises an `AuthError` subclass for every refusal. Only an explicit success returns.
        """
        if self.classify(scope["path"]).public:
            return None
        return await self.identify(scope, headers)

    async def identify(self, scope: Scope, headers: Headers | None = None) -> Identity:
        """The identity the request's credential proves, whatever its path: for public routes
        that act on the caller's own credential, such as a logout that revokes it. The same
        precedence, verification, cache and revocation check as `authenticate`."""
        if self.custom_authenticate is not None:
            identity = await self._custom(scope)
        else:
            key = self.policy.locate(scope, headers)
            if key is None:
                raise CredentialsMissing()
            cached = self.cache.get(key)
            identity = cached if cached is not None else await self._verified(key)
        if not self._revocation_started:
            await self.start()
        self.revocation.check(identity.revocation_key)  # in memory, cached token or not: every replica's revocations
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
        for source in TokenSource:
            self.cache.discard((source, token))

    def invalidate_all(self) -> None:
        """Forget every verified token: each is verified again at its next use."""
        self.cache.clear()

    async def start(self) -> None:
        """Start the revocation store (a shared store's subscription and poll; waits for its first
        sync, within its timeouts). Call it from the lifespan, else the first request does."""
        await self.revocation.start()
        self._revocation_started = True  # after: concurrent first requests all wait for the sync

    async def aclose(self) -> None:  # from the lifespan's shutdown: stops what `start` started
        await self.revocation.aclose()

    async def revoke(self, target: Identity | Revocation) -> None:
        """Revoke an `Identity`'s token (a logout) or any `Revocation` for every replica sharing the store;
        `ServiceUnavailable` when a shared store is unreachable (this process refuses it already)."""
        if isinstance(target, Identity):
            if target.token is not None:
                self.invalidate(target.token)
            target = Revocation.of_token(target.revocation_key)
        await self.revocation.revoke(target)

    async def prefetch(self) -> None:
        """Load verification keys from the network now (the JWKS, when `JWKS_URL` is set), so
        the first request does not wait for them; a no-op for other verifiers. Call it from the
        application's lifespan. Raises `jwks.JWKSError` when the fetch fails."""
        jwks = self._jwks_client()
        if jwks is not None:
            await jwks.prefetch()

    def _jwks_client(self) -> JWKSClient | None:
        resolver = getattr(self.verifier, "key_resolver", None)
        return resolver if isinstance(resolver, JWKSClient) else None

    async def _verified(self, key: tuple[TokenSource, str]) -> Identity:
        """Verify a credential the cache does not hold; cache the identity when it succeeds."""
        assert self.verifier is not None  # noqa: S101 - guaranteed by __init__
        credential = Credential(key[1], key[0])
        principal = await self.verifier.verify(credential)
        identity = self._identity(principal, credential)
        self.cache.put(key, identity, expires_at=principal.expires_at)
        return identity

    async def _custom(self, scope: Scope) -> Identity:
        assert self.custom_authenticate is not None  # noqa: S101 - guaranteed by __init__
        result = await self.custom_authenticate(HTTPConnection(scope))
        principal = self._accepted_principal(result)
        if not principal.permissions:
            principal = self.rbac.bind(principal)
        return self._identity(principal, None)

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

    def _identity(self, principal: Principal, credential: Credential | None) -> Identity:
        return Identity(
            principal=principal,
            user=make_user(principal, credential.token if credential else None),
            auth=AuthCredentials(sorted(principal.permissions)),
            token=credential.token if credential else None,
            revocation_key=revocation_key(principal, credential.token if credential else None),
        )
