"""Roles, permissions and their checks.

A principal's effective permissions are the union of its global roles' permissions; team
roles (`team_roles: {"team-a": ["developer"]}`) grant permissions for that team only. OAuth
scopes that are permission names narrow both (an intersection that honours wildcards); they
never widen them, and a token none of whose scopes is a permission name is not narrowed.
The names and how they match are in `permissions.py`; the policy file in `policy_file.py`.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, TypeVar

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from .context import get_authenticator, principal_from
from .errors import AuthError, ConfigurationError, CredentialsMissing, PermissionDenied
from .permissions import expand, grants, is_permission_name, narrow
from .policy_file import load_policy, permission_list
from .principal import Principal
from .responses import error_response
from .settings import AuthSettings

__all__ = ["BUILTIN_ROLES", "KNOWN_PERMISSIONS", "RBACPolicy", "grants", "is_permission_name", "requires_permission"]

logger = logging.getLogger("asgi_mcp_auth.rbac")
LOG_UNKNOWN_ROLE = "Ignoring unknown role %r named in a token"
_MAX_WARNED_ROLES = 1024  # token claims choose role names: bound what we remember

READ_PERMISSIONS = frozenset({"tools.read", "resources.read", "prompts.read", "gateways.read"})

BUILTIN_ROLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "admin": frozenset({"*"}),
        "developer": READ_PERMISSIONS | {"tools.execute", "prompts.execute"},
        "viewer": READ_PERMISSIONS,
    }
)

KNOWN_PERMISSIONS = READ_PERMISSIONS | {"tools.execute", "prompts.execute", "gateways.update"}
"""Names that `*` and area wildcards are expanded to in `principal.permissions`."""

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


class RBACPolicy:
    """Roles mapped to permissions. Build once (at start-up); its methods only read.

    `roles` defaults to `BUILTIN_ROLES`; `permissions` names further permissions that wildcards
    are expanded to (see `effective`). A role whose permissions are not a list of permission
    names is a `ConfigurationError` naming the role.
    """

    def __init__(self, roles: Mapping[str, Iterable[str]] | None = None, *, permissions: Iterable[str] = ()) -> None:
        source = BUILTIN_ROLES if roles is None else roles
        self.roles: Mapping[str, frozenset[str]] = MappingProxyType(
            {name: permission_list(perms, f"RBAC role {name!r}", role=name) for name, perms in source.items()}
        )
        extra = permission_list(list(permissions), "RBAC permissions")
        self.vocabulary = KNOWN_PERMISSIONS | extra | {p for perms in self.roles.values() for p in perms}
        self._warned: set[str] = set()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> RBACPolicy:
        """The built-in roles, or those of `RBAC_POLICY` (JSON text, or a JSON or TOML file)."""
        if settings.rbac_policy is None:
            return cls()
        return cls.from_source(settings.rbac_policy)

    @classmethod
    def from_source(cls, value: str) -> RBACPolicy:
        """A policy from JSON text or the path of a JSON or TOML file (see `policy_file.py`)."""
        document = load_policy(value)
        roles = {**BUILTIN_ROLES, **document.roles} if document.extends_builtin else dict(document.roles)
        return cls(roles, permissions=document.permissions)

    def __repr__(self) -> str:
        return f"RBACPolicy(roles={sorted(self.roles)!r})"

    def permissions_of(self, roles: Iterable[str]) -> frozenset[str]:
        """The union of the permissions of `roles`; unknown roles are ignored (logged once)."""
        result: set[str] = set()
        for role in roles:
            perms = self.roles.get(role)
            if perms is None:
                self._warn_unknown(role)
                continue
            result |= perms
        return frozenset(result)

    def effective(
        self,
        roles: Iterable[str],
        scopes: Iterable[str] = (),
        team_roles: Mapping[str, Iterable[str]] | None = None,
    ) -> tuple[frozenset[str], Mapping[str, frozenset[str]]]:
        """(global permissions, per-team permissions), narrowed by the permission-name scopes.

        Wildcards are kept and also expanded to the known names they grant, so exact-match
        checks (Starlette's `@requires`, the MCP SDK's required scopes) see `tools.read` for a
        holder of `*`. `check` and `allows` match wildcards and per-tool names themselves.
        """
        narrowing = frozenset(scope for scope in scopes if is_permission_name(scope))
        permissions = self.permissions_of(roles)
        teams = {team: self.permissions_of(team_role) for team, team_role in (team_roles or {}).items()}
        if narrowing:
            permissions = narrow(permissions, narrowing)
            teams = {team: narrow(perms, narrowing) for team, perms in teams.items()}
        return (
            expand(permissions, self.vocabulary),
            MappingProxyType({team: expand(perms, self.vocabulary) for team, perms in teams.items()}),
        )

    def bind(self, principal: Principal) -> Principal:
        """`principal` with its effective permissions computed from its roles and scopes."""
        permissions, teams = self.effective(principal.roles, principal.scopes, principal.team_roles)
        return replace(principal, permissions=permissions, team_permissions=teams)

    def allows(self, principal: Principal, permission: str, team: str | None = None) -> bool:
        """Does `principal` hold `permission` globally, or for `team` when one is given?"""
        if any(grants(held, permission) for held in principal.permissions):
            return True
        if team is None:
            return False
        return any(grants(held, permission) for held in principal.team_permissions.get(team, ()))

    def check(self, principal: Principal, permission: str, team: str | None = None) -> None:
        """Raise `PermissionDenied(permission)` unless `principal` holds `permission`."""
        if not self.allows(principal, permission, team):
            raise PermissionDenied(permission)

    def _warn_unknown(self, role: str) -> None:
        if role not in self._warned and len(self._warned) < _MAX_WARNED_ROLES:
            self._warned.add(role)
            logger.warning(LOG_UNKNOWN_ROLE, role)


def check_request(conn: HTTPConnection, permission: str, team: str | None = None) -> Principal:
    """The request's principal if it holds `permission` (for `team`), as the middleware's own
    `RBACPolicy` decides. Raises `CredentialsMissing` (anonymous) or `PermissionDenied`."""
    principal = principal_from(conn)
    if principal is None:
        raise CredentialsMissing()
    get_authenticator(conn).rbac.check(principal, permission, team)
    return principal


def resource_metadata_url(conn: HTTPConnection) -> str | None:
    settings = get_authenticator(conn).settings
    return settings.resource_metadata_url if settings is not None else None


def team_of(conn: HTTPConnection, team: str | None, team_param: str | None) -> str | None:
    """The fixed `team`, or the value of the path parameter `team_param`."""
    if team_param is None:
        return team
    if team_param not in conn.path_params:
        raise RuntimeError(f"The route has no path parameter {team_param!r} to take the team from")
    return str(conn.path_params[team_param])


def validate_requirement(permission: str, team: str | None, team_param: str | None) -> None:
    if not is_permission_name(permission):
        raise ConfigurationError(f"{permission!r} is not a permission name")
    if team is not None and team_param is not None:
        raise ConfigurationError("Give team or team_param, not both")


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
            return error_response(error, jsonrpc=False, resource_metadata_url=resource_metadata_url(conn))

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
