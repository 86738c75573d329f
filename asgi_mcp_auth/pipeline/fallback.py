"""The fallback: code that may run outside the middleware reaches the SAME `Authenticator`.

`get_authenticator(request)` returns the one the middleware recorded in the request's scope,
else the one the most recently built middleware recorded; `resolve_principal(request)` returns
the principal the middleware stored, else decides it with that authenticator. There is never a
second set of rules (seed 000).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import Scope

from ..core.principal import Principal
from .authenticator import Authenticator
from .context import AUTHENTICATOR_KEY

__all__ = ["get_authenticator", "resolve_principal", "set_default_authenticator"]

_default_authenticator: Authenticator | None = None


def set_default_authenticator(authenticator: Authenticator) -> None:
    """Record the process's authenticator (the middleware does this when it is built)."""
    global _default_authenticator
    _default_authenticator = authenticator


def get_authenticator(conn: HTTPConnection | Scope | None = None) -> Authenticator:
    """The `Authenticator` the middleware uses: the one recorded in the request's scope, else
    the one the most recently built middleware recorded. Never a second set of rules."""
    if conn is not None:
        scope = conn.scope if isinstance(conn, HTTPConnection) else conn
        authenticator: Authenticator | None = scope.get(AUTHENTICATOR_KEY)
        if authenticator is not None:
            return authenticator
    if _default_authenticator is None:
        raise RuntimeError("No MCPAuthMiddleware has been built in this process")
    return _default_authenticator


async def resolve_principal(conn: HTTPConnection | Scope) -> Principal | None:
    """The fallback for code that may run outside the middleware: the principal in the scope
    when the middleware ran, otherwise decided by the SAME `Authenticator` the middleware uses.
    Raises `AuthError` when that authenticator refuses the request."""
    return await get_authenticator(conn).resolve(conn)
