"""Compatibility with the `mcp` SDK, used only when the `mcp` package is importable.

With it, `scope["user"]` is an instance of the SDK's `AuthenticatedUser` carrying an
`AccessToken`, so the SDK's session-to-credential binding and `get_access_token()` work with no
extra code, and the SDK's own `auth_context_var` is set (and reset) for each request.
Without it, `scope["user"]` is a plain `PrincipalUser`; nothing here imports `mcp` eagerly.

The SDK binds a stateful session to `(client_id, claims["iss"], subject)` of the user that
opened it and answers 404 to any other triple. So `client_id` must be stable per client, never
per token: it is the token's `client_id` or `azp` claim, else the subject. A refreshed token
(or one with other scopes) for the same client and subject keeps its sessions; another
subject, issuer or client gets 404, exactly as for an unknown session.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar, Token
from typing import Any

from starlette.authentication import BaseUser

from ..core.principal import Principal, PrincipalUser, PrincipalUserMixin
from ..policy.precedence import token_of

__all__ = ["HAS_MCP", "SDK_AUTH_CONTEXT", "make_user", "set_sdk_user", "reset_sdk_user"]

try:
    from mcp.server.auth.middleware.auth_context import auth_context_var as _auth_context_var
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser as _AuthenticatedUser
    from mcp.server.auth.provider import AccessToken as _AccessToken
except ImportError:  # pragma: no cover - exercised by the no-mcp job
    HAS_MCP = False
else:
    HAS_MCP = True

#: The SDK's `auth_context_var` (None without `mcp`): the middleware sets it to the user of
#: each authenticated request, every such user being an `MCPPrincipalUser` when `mcp` is there.
SDK_AUTH_CONTEXT: ContextVar[Any] | None = _auth_context_var if HAS_MCP else None


def make_user(principal: Principal, credential: bytes | str | None) -> BaseUser:
    """The Starlette user for `principal`: the SDK's user type when `mcp` is installed.
    `credential` is the bearer token, or the header value carrying it (`Bearer <token>`)."""
    if not HAS_MCP:
        return PrincipalUser(principal)
    return MCPPrincipalUser(principal, credential)


if HAS_MCP:

    class RedactedAccessToken(_AccessToken):
        """The SDK's `AccessToken` whose `repr()` and `str()` never show the bearer token
        (a log line or a traceback's locals would otherwise carry a working credential)."""

        def __repr_args__(self) -> Any:
            for name, value in super().__repr_args__():
                yield (name, f"<{len(value)} chars>" if name == "token" and isinstance(value, str) else value)

    class MCPPrincipalUser(PrincipalUserMixin, _AuthenticatedUser):
        """The SDK's `AuthenticatedUser`, carrying our `Principal` as `.principal`.

        Its `access_token` (an SDK `AccessToken`) holds the bearer token string (empty for a
        custom authenticator), `client_id` as described in the module docstring, the token's
        OAuth `scopes` as granted (`request.auth.scopes` holds the effective permissions),
        `expires_at`, `subject`, `resource` (the first audience) and the claims with `iss`.
        It is built on first use: most requests never reach SDK code that reads it.
        """

        def __init__(self, principal: Principal, credential: bytes | str | None) -> None:
            # Not AuthenticatedUser.__init__: it needs the AccessToken now. This is what it sets.
            self.username = principal.client_id or principal.subject
            self.principal = principal
            self._credential = credential  # the cache key's own object: the token is not copied

        @property
        def display_name(self) -> str:
            # The SDK's own answer (`SimpleUser.display_name`): the client id, which is also
            # what its session binding records. `principal.name` stays on the principal.
            return self.username

        @functools.cached_property
        def access_token(self) -> _AccessToken:  # type: ignore[override]
            principal = self.principal
            claims: dict[str, Any] = dict(principal.claims)
            if principal.issuer is not None:
                claims.setdefault("iss", principal.issuer)
            return RedactedAccessToken(
                token=token_of(self._credential) or "",
                client_id=self.username,
                scopes=sorted(principal.scopes),
                expires_at=principal.expires_at,
                resource=principal.audience[0] if principal.audience else None,
                subject=principal.subject,
                claims=claims,
            )

        @property
        def scopes(self) -> list[str]:  # type: ignore[override]
            return self.access_token.scopes


def set_sdk_user(user: BaseUser) -> Token[Any] | None:
    """Set the SDK's `auth_context_var` for this request; returns the reset token."""
    if HAS_MCP and isinstance(user, _AuthenticatedUser):
        return _auth_context_var.set(user)
    return None


def reset_sdk_user(token: Token[Any] | None) -> None:
    """Undo `set_sdk_user` (a None token, from a non-SDK user, is a no-op)."""
    if token is not None:
        _auth_context_var.reset(token)
