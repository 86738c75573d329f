"""Where a request's principal lives: its ASGI scope, and a ContextVar for the current task.

`principal_from(request)` reads the scope of THAT request, which is right even in MCP tool
handlers of stateful sessions, whose task may have been started by an earlier request.
`current_principal()` reads the ContextVar that the middleware sets and resets per request.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection
from starlette.types import Scope

from .principal import Principal

if TYPE_CHECKING:
    from .authenticator import Authenticator

__all__ = [
    "AUTHENTICATOR_KEY",
    "PRINCIPAL_KEY",
    "current_principal",
    "get_authenticator",
    "principal_from",
    "resolve_principal",
    "set_default_authenticator",
]

PRINCIPAL_KEY = "asgi_mcp_auth.principal"
AUTHENTICATOR_KEY = "asgi_mcp_auth.authenticator"

_principal: ContextVar[Principal | None] = ContextVar("asgi_mcp_auth.principal", default=None)
_default_authenticator: Authenticator | None = None


def current_principal() -> Principal | None:
    """The principal of the request being served; None outside a request or when anonymous."""
    return _principal.get()


def principal_from(conn: HTTPConnection | Scope) -> Principal | None:
    """The principal the middleware stored in this request's scope (None when anonymous)."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    principal: Principal | None = scope.get(PRINCIPAL_KEY)
    return principal


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
