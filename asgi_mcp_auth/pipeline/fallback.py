"""The fallback: code that may run outside the middleware reaches the SAME `Authenticator`.

Which authenticator answers never depends on history (which middleware was built last, which
request came first):

1. the one the middleware recorded in the request's scope, when a middleware saw the request;
2. else the one passed as `authenticator=` (build it with `Authenticator.from_settings(...)`,
   hand it to `MCPAuthMiddleware(app, authenticator=...)`, and keep it);
3. else the only one that exists in the process, when exactly one does;
4. else `RuntimeError` naming the fix: with two middlewares (two tenants, two apps) a request
   that none of them saw could belong to either, and guessing would give it another tenant's
   rules and identity.

An authenticator "exists" while something holds it (a middleware, an app): the registry keeps
weak references only, so an app that is gone stops counting.
"""

from __future__ import annotations

import weakref

from starlette.requests import HTTPConnection
from starlette.types import Scope

from ..core.principal import Principal
from .authenticator import Authenticator
from .context import AUTHENTICATOR_KEY, PRINCIPAL_KEY

__all__ = ["get_authenticator", "register_authenticator", "resolve_principal"]

_authenticators: weakref.WeakSet[Authenticator] = weakref.WeakSet()

NONE_BUILT = "No MCPAuthMiddleware has been built in this process"
AMBIGUOUS = (
    "{count} authenticators exist in this process and no MCPAuthMiddleware saw this request: pass a "
    "request that went through the middleware, or build the middleware with "
    "MCPAuthMiddleware(app, authenticator=...) and pass that authenticator= here"
)


def register_authenticator(authenticator: Authenticator) -> None:
    """Count `authenticator` as one that exists (the middleware does this when it is built)."""
    _authenticators.add(authenticator)


def get_authenticator(
    conn: HTTPConnection | Scope | None = None, *, authenticator: Authenticator | None = None
) -> Authenticator:
    """The `Authenticator` for `conn`, chosen as the module docstring says. Never a second set
    of rules; raises `RuntimeError` when the choice would be a guess."""
    if conn is not None:
        scope = conn.scope if isinstance(conn, HTTPConnection) else conn
        recorded: Authenticator | None = scope.get(AUTHENTICATOR_KEY)
        if recorded is not None:
            return recorded
    if authenticator is not None:
        return authenticator
    alive = list(_authenticators)
    if len(alive) == 1:
        return alive[0]
    if not alive:
        raise RuntimeError(NONE_BUILT)
    raise RuntimeError(AMBIGUOUS.format(count=len(alive)))


async def resolve_principal(
    conn: HTTPConnection | Scope, *, authenticator: Authenticator | None = None
) -> Principal | None:
    """The fallback for code that may run outside the middleware: the principal in the scope
    when the middleware ran, otherwise decided by the authenticator `get_authenticator` picks.
    Raises `AuthError` when that authenticator refuses the request, `RuntimeError` when there
    is no single authenticator to ask."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    if PRINCIPAL_KEY in scope:
        principal: Principal | None = scope[PRINCIPAL_KEY]
        return principal  # the middleware decided: nothing to choose
    return await get_authenticator(conn, authenticator=authenticator).resolve(conn)
