"""Permission checks for application code, against the principal and the `RBACPolicy` of the
middleware that served the request: the shared core of the Starlette and FastAPI helpers."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ..core.errors import CredentialsMissing
from ..core.principal import Principal
from .context import principal_from
from .fallback import get_authenticator

__all__ = ["challenge_scopes", "check_request", "resource_metadata_url", "team_of"]


def check_request(conn: HTTPConnection, permission: str, team: str | None = None) -> Principal:
    """The request's principal if it holds `permission` (for `team`), as the middleware's own
    `RBACPolicy` decides. Raises `CredentialsMissing` (anonymous) or `PermissionDenied`."""
    principal = principal_from(conn)
    if principal is None:
        raise CredentialsMissing()
    get_authenticator(conn).rbac.check(principal, permission, team)
    return principal


def challenge_scopes(conn: HTTPConnection) -> tuple[str, ...]:
    """The OAuth scopes for basic access that a 401's `scope=` names (see `RBACPolicy`)."""
    return get_authenticator(conn).rbac.challenge_scopes


def resource_metadata_url(conn: HTTPConnection) -> str | None:
    """`MCP_AUTH_RESOURCE_METADATA_URL` of the middleware that served `conn`, for challenges."""
    settings = get_authenticator(conn).settings
    return settings.resource_metadata_url if settings is not None else None


def team_of(conn: HTTPConnection, team: str | None, team_param: str | None) -> str | None:
    """The fixed `team`, or the value of the path parameter `team_param`."""
    if team_param is None:
        return team
    if team_param not in conn.path_params:
        raise RuntimeError(f"The route has no path parameter {team_param!r} to take the team from")
    return str(conn.path_params[team_param])
