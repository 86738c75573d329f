"""Where a request's principal lives: its ASGI scope, and a ContextVar for the current task.

`principal_from(request)` reads the scope of THAT request, which is right even in MCP tool
handlers of stateful sessions, whose task may have been started by an earlier request.
`current_principal()` reads the ContextVar that the middleware sets and resets per request.
"""

from __future__ import annotations

from contextvars import ContextVar

from starlette.requests import HTTPConnection
from starlette.types import Scope

from ..core.principal import Principal

__all__ = ["AUTHENTICATOR_KEY", "PRINCIPAL_KEY", "current_principal", "principal_from"]

PRINCIPAL_KEY = "asgi_mcp_auth.principal"
AUTHENTICATOR_KEY = "asgi_mcp_auth.authenticator"

_principal: ContextVar[Principal | None] = ContextVar("asgi_mcp_auth.principal", default=None)


def current_principal() -> Principal | None:
    """The principal of the request being served; None outside a request or when anonymous."""
    return _principal.get()


def principal_from(conn: HTTPConnection | Scope) -> Principal | None:
    """The principal the middleware stored in this request's scope (None when anonymous)."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    principal: Principal | None = scope.get(PRINCIPAL_KEY)
    return principal
