"""Starlette: `@requires_permission(...)`, an endpoint decorator that checks a permission of the
request's principal, as the middleware's own `RBACPolicy` decides.

    @requires_permission("gateways.update")
    async def refresh(request: Request) -> Response: ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from ..core.errors import AuthError
from ..pipeline.checks import challenge_scopes, check_request, resource_metadata_url, team_of
from ..pipeline.responses import error_response
from ..policy.rbac import validate_requirement

__all__ = ["requires_permission"]

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def requires_permission(
    permission: str, team: str | None = None, *, team_param: str | None = None
) -> Callable[[_Endpoint], _Endpoint]:
    """A Starlette endpoint decorator: the endpoint runs only when the request's principal
    holds `permission` (for `team`, or for the team in the path parameter `team_param`).

    Anonymous: 401 `Bearer`; missing the permission: 403 with
    `WWW-Authenticate: Bearer error="insufficient_scope", scope="<permission>"`. A WebSocket
    endpoint is closed with 1008 instead. Like Starlette's `@requires`, the endpoint needs a
    parameter named `request` or `websocket`.
    """
    validate_requirement(permission, team, team_param)

    def decorator(endpoint: _Endpoint) -> _Endpoint:
        names = list(inspect.signature(endpoint).parameters)
        index = next((i for i, name in enumerate(names) if name in ("request", "websocket")), None)
        if index is None:
            raise TypeError(f'No "request" or "websocket" parameter on {endpoint.__qualname__}')

        def refusal(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[HTTPConnection, AuthError | None]:
            conn = kwargs.get(names[index], args[index] if index < len(args) else None)
            if not isinstance(conn, HTTPConnection):
                raise TypeError(f"{endpoint.__qualname__} was not called with a request")
            try:
                check_request(conn, permission, team_of(conn, team, team_param))
            except AuthError as error:
                return conn, error
            return conn, None

        def response_for(conn: HTTPConnection, error: AuthError) -> Response:
            return error_response(
                error,
                jsonrpc=False,
                resource_metadata_url=resource_metadata_url(conn),
                scopes=challenge_scopes(conn),
            )

        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                conn, error = refusal(args, kwargs)
                if error is None:
                    return await endpoint(*args, **kwargs)
                if isinstance(conn, WebSocket):
                    await conn.close(code=1008)
                    return None
                return response_for(conn, error)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(endpoint)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            conn, error = refusal(args, kwargs)
            return endpoint(*args, **kwargs) if error is None else response_for(conn, error)

        return sync_wrapper  # type: ignore[return-value]

    return decorator
