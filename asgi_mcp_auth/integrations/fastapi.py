"""FastAPI: `require_permission(...)`, a dependency that checks a permission of the request's
principal and declares the bearer security scheme, so the OpenAPI page's "Authorize" works.

    @app.post("/gateways/{gateway_id}/refresh")
    async def refresh(principal: Principal = Depends(require_permission("gateways.update"))): ...

    @app.get("/teams/{team_id}/tools", dependencies=[Depends(require_permission("tools.read", team_param="team_id"))])

The principal is the one `MCPAuthMiddleware` stored for the request (`principal_from`), and the
roles are those of the middleware's own `RBACPolicy` (`get_authenticator(request).rbac`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..core.errors import AuthError
from ..core.principal import Principal
from ..pipeline.checks import challenge_scopes, check_request, resource_metadata_url, team_of
from ..pipeline.responses import challenge
from ..policy.rbac import validate_requirement

__all__ = ["bearer_scheme", "require_permission"]

bearer_scheme = HTTPBearer(
    auto_error=False,  # the middleware has already authenticated (or refused) the request
    scheme_name="BearerAuth",
    bearerFormat="JWT",
    description="An access token for this gateway, sent as `Authorization: Bearer <token>`.",
)


def _http_exception(error: AuthError, request: Request) -> HTTPException:
    headers = {"Cache-Control": "no-store"}
    value = challenge(error, resource_metadata_url=resource_metadata_url(request), scopes=challenge_scopes(request))
    if value is not None:
        headers["WWW-Authenticate"] = value
    return HTTPException(status_code=error.status_code, detail=error.message, headers=headers)


def require_permission(
    permission: str, team: str | None = None, *, team_param: str | None = None
) -> Callable[..., Awaitable[Principal]]:
    """A dependency returning the request's `Principal` when it holds `permission`.

    `team` checks the permission for that team (global permissions count too); `team_param`
    takes the team from the named path parameter of the route instead. Anonymous: 401
    `Bearer`; missing the permission: 403 with
    `WWW-Authenticate: Bearer error="insufficient_scope", scope="<permission>"`; both with a
    `{"detail": ...}` body. A name that is not a permission name is a `ConfigurationError`.
    """
    validate_requirement(permission, team, team_param)

    async def dependency(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
    ) -> Principal:
        try:
            return check_request(request, permission, team_of(request, team, team_param))
        except AuthError as error:
            raise _http_exception(error, request) from None

    return dependency
