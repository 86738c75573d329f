"""Roles, permissions and their checks.

A principal's effective permissions are the union of its global roles' permissions; team
roles (`team_roles: {"team-a": ["developer"]}`) grant permissions for that team only. OAuth
scopes that are permission names narrow both (an intersection that honours wildcards); they
never widen them, and a token none of whose scopes is a permission name is not narrowed.
The names and how they match are in `permissions.py`; the policy file in `policy_file.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Protocol

from ..core.errors import ConfigurationError, PermissionDenied
from ..core.permissions import expand, grants, is_permission_name, narrow
from ..core.principal import Principal
from .policy_file import load_policy, permission_list

__all__ = [
    "BUILTIN_ROLES",
    "KNOWN_PERMISSIONS",
    "RBACPolicy",
    "grants",
    "is_permission_name",
    "validate_requirement",
]

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


class PolicySource(Protocol):
    """What `RBACPolicy.from_settings` reads of the settings (`AuthSettings` has it)."""

    @property
    def rbac_policy(self) -> str | None: ...


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
    def from_settings(cls, settings: PolicySource) -> RBACPolicy:
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


def validate_requirement(permission: str, team: str | None, team_param: str | None) -> None:
    if not is_permission_name(permission):
        raise ConfigurationError(f"{permission!r} is not a permission name")
    if team is not None and team_param is not None:
        raise ConfigurationError("Give team or team_param, not both")
