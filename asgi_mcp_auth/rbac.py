"""Roles, permissions and their checks.

Permission names are `area.action` (`tools.read`), optionally per object
(`tools.execute:<tool>`). A held permission grants a wanted one when they are equal, when it is
`*`, when it ends in `.*` or `:*` and the wanted one continues it, or when it is the wanted
one without its `:<object>` part (`tools.execute` grants `tools.execute:echo`).

OAuth scopes that are permission names narrow what the roles give; they never widen it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from .errors import ConfigurationError, PermissionDenied
from .principal import Principal
from .settings import AuthSettings

__all__ = ["BUILTIN_ROLES", "RBACPolicy", "grants", "is_permission_name"]

logger = logging.getLogger("asgi_mcp_auth.rbac")
LOG_UNKNOWN_ROLE = "Ignoring unknown role %r named in a token"

BUILTIN_ROLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "admin": frozenset({"*"}),
        "developer": frozenset(
            {
                "tools.read",
                "tools.execute",
                "resources.read",
                "prompts.read",
                "prompts.execute",
                "gateways.read",
            }
        ),
        "viewer": frozenset({"tools.read", "resources.read", "prompts.read", "gateways.read"}),
    }
)


def is_permission_name(value: str) -> bool:
    """True for `*` and `area.action[:object]` names; False for scopes such as `openid`."""
    if value == "*":
        return True
    base = value.split(":", 1)[0]
    area, dot, action = base.partition(".")
    return bool(dot and area and action) and " " not in value


def grants(held: str, wanted: str) -> bool:
    """Does the permission `held` grant the permission `wanted`?"""
    if held == wanted or held == "*":
        return True
    if held.endswith((".*", ":*")):
        return wanted.startswith(held[:-1])
    base, colon, _ = wanted.partition(":")
    return bool(colon) and held == base


def _narrow(granted: frozenset[str], scopes: frozenset[str]) -> frozenset[str]:
    # Each result is granted by a role permission AND by a scope: the more specific of the two.
    result: set[str] = set()
    for held in granted:
        for scope in scopes:
            if grants(held, scope):
                result.add(scope)
            elif grants(scope, held):
                result.add(held)
    return frozenset(result)


class RBACPolicy:
    """Roles mapped to permissions. Build once; its methods only read."""

    def __init__(self, roles: Mapping[str, Iterable[str]] | None = None) -> None:
        source = BUILTIN_ROLES if roles is None else roles
        self.roles: Mapping[str, frozenset[str]] = MappingProxyType(
            {name: frozenset(perms) for name, perms in source.items()}
        )
        self._warned: set[str] = set()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> RBACPolicy:
        """The built-in roles, or those of `RBAC_POLICY` (JSON text, or a JSON or TOML file)."""
        if settings.rbac_policy is None:
            return cls()
        raise ConfigurationError("MCP_AUTH_RBAC_POLICY is not supported yet")

    def permissions_of(self, roles: Iterable[str]) -> frozenset[str]:
        """The union of the permissions of `roles`; unknown roles are ignored (logged once)."""
        result: set[str] = set()
        for role in roles:
            perms = self.roles.get(role)
            if perms is None:
                if role not in self._warned:
                    self._warned.add(role)
                    logger.warning(LOG_UNKNOWN_ROLE, role)
                continue
            result |= perms
        return frozenset(result)

    def effective(
        self,
        roles: Iterable[str],
        scopes: Iterable[str] = (),
        team_roles: Mapping[str, Iterable[str]] | None = None,
    ) -> tuple[frozenset[str], Mapping[str, frozenset[str]]]:
        """(global permissions, per-team permissions), narrowed by the permission-name scopes."""
        narrowing = frozenset(scope for scope in scopes if is_permission_name(scope))
        permissions = self.permissions_of(roles)
        teams = {team: self.permissions_of(team_role) for team, team_role in (team_roles or {}).items()}
        if narrowing:
            permissions = _narrow(permissions, narrowing)
            teams = {team: _narrow(perms, narrowing) for team, perms in teams.items()}
        return permissions, MappingProxyType(teams)

    def bind(self, principal: Principal) -> Principal:
        """`principal` with its effective permissions computed from its roles and scopes."""
        from dataclasses import replace

        permissions, teams = self.effective(principal.roles, principal.scopes, principal.team_roles)
        return replace(principal, permissions=permissions, team_permissions=teams)

    def allows(self, principal: Principal, permission: str, team: str | None = None) -> bool:
        if any(grants(held, permission) for held in principal.permissions):
            return True
        if team is not None:
            return any(grants(held, permission) for held in principal.team_permissions.get(team, ()))
        return False

    def check(self, principal: Principal, permission: str, team: str | None = None) -> None:
        """Raise `PermissionDenied(permission)` unless `principal` holds `permission`."""
        if not self.allows(principal, permission, team):
            raise PermissionDenied(permission)
