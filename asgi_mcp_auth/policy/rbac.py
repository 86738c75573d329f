"""Roles, permissions and their checks.

A principal's effective permissions are the union of its global roles' permissions; team
roles (`team_roles: {"team-a": ["developer"]}`) grant permissions for that team only. OAuth
scopes that are permission names narrow both (an intersection that honours wildcards); they
never widen them, and a token none of whose scopes is a permission name is not narrowed.
OAuth scopes that an authorization server issues (`mcp:tools`) may be mapped to permissions
(`scope_permissions`, `SCOPE_PERMISSIONS`): a mapped scope GRANTS its permissions, globally,
because the authorization server already decided the holder may have them.
The names and how they match are in `permissions.py`; the policy file in `policy_file.py`.
"""

from __future__ import annotations

import json
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
    "parse_scope_permissions",
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

    @property
    def scope_permissions(self) -> str | None: ...

    @property
    def challenge_scopes(self) -> list[str] | None: ...


def parse_scope_permissions(value: str | None) -> Mapping[str, frozenset[str]]:
    """`SCOPE_PERMISSIONS` (a JSON object: OAuth scope -> list of permission names), checked."""
    if value is None or not value.strip():
        return MappingProxyType({})
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        raise ConfigurationError("MCP_AUTH_SCOPE_PERMISSIONS is not JSON") from None
    if not isinstance(document, dict):
        raise ConfigurationError("MCP_AUTH_SCOPE_PERMISSIONS must be a JSON object: scope -> [permissions]")
    result: dict[str, frozenset[str]] = {}
    for scope, permissions in document.items():
        # RFC 6749 §3.3: a scope token is printable ASCII without space, quote or backslash.
        if not scope or any(not 0x21 <= ord(ch) <= 0x7E or ch in '"\\' for ch in scope):
            raise ConfigurationError(f"MCP_AUTH_SCOPE_PERMISSIONS: {scope!r} is not an OAuth scope token")
        result[scope] = permission_list(permissions, f"MCP_AUTH_SCOPE_PERMISSIONS scope {scope!r}")
    return MappingProxyType(result)


class RBACPolicy:
    """Roles mapped to permissions. Build once (at start-up); its methods only read.

    `roles` defaults to `BUILTIN_ROLES`; `permissions` names further permissions that wildcards
    are expanded to (see `effective`). A role whose permissions are not a list of permission
    names is a `ConfigurationError` naming the role.
    """

    def __init__(
        self,
        roles: Mapping[str, Iterable[str]] | None = None,
        *,
        permissions: Iterable[str] = (),
        scope_permissions: Mapping[str, Iterable[str]] | None = None,
        challenge_scopes: Iterable[str] | None = None,
    ) -> None:
        source = BUILTIN_ROLES if roles is None else roles
        self.roles: Mapping[str, frozenset[str]] = MappingProxyType(
            {name: permission_list(perms, f"RBAC role {name!r}", role=name) for name, perms in source.items()}
        )
        extra = permission_list(list(permissions), "RBAC permissions")
        self.vocabulary = KNOWN_PERMISSIONS | extra | {p for perms in self.roles.values() for p in perms}
        self.scope_permissions: Mapping[str, frozenset[str]] = MappingProxyType(
            {
                scope: permission_list(list(perms), f"Scope {scope!r}")
                for scope, perms in (scope_permissions or {}).items()
            }
        )
        self.vocabulary |= {p for perms in self.scope_permissions.values() for p in perms}
        if challenge_scopes is None:
            # Basic access: the mapped scopes that grant only `<area>.read` permissions.
            challenge_scopes = [
                scope
                for scope, perms in self.scope_permissions.items()
                if perms and all(p.endswith(".read") for p in perms)
            ]
        self.challenge_scopes: tuple[str, ...] = tuple(challenge_scopes)
        """The OAuth scopes a 401's `scope=` names (MCP 2025-11-25: what basic access needs)."""
        self._warned: set[str] = set()

    @classmethod
    def from_settings(cls, settings: PolicySource) -> RBACPolicy:
        """The built-in roles, or those of `RBAC_POLICY` (JSON text, or a JSON or TOML file)."""
        scopes = parse_scope_permissions(settings.scope_permissions)
        if settings.rbac_policy is None:
            return cls(scope_permissions=scopes, challenge_scopes=settings.challenge_scopes)
        return cls.from_source(
            settings.rbac_policy, scope_permissions=scopes, challenge_scopes=settings.challenge_scopes
        )

    @classmethod
    def from_source(
        cls,
        value: str,
        *,
        scope_permissions: Mapping[str, Iterable[str]] | None = None,
        challenge_scopes: Iterable[str] | None = None,
    ) -> RBACPolicy:
        """A policy from JSON text or the path of a JSON or TOML file (see `policy_file.py`)."""
        document = load_policy(value)
        roles = {**BUILTIN_ROLES, **document.roles} if document.extends_builtin else dict(document.roles)
        return cls(
            roles,
            permissions=document.permissions,
            scope_permissions=scope_permissions,
            challenge_scopes=challenge_scopes,
        )

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
        """(global permissions, per-team permissions), narrowed by the permission-name scopes,
        plus what the mapped OAuth scopes grant (globally; a mapped scope never narrows).

        Wildcards are kept and also expanded to the known names they grant, so exact-match
        checks (Starlette's `@requires`, the MCP SDK's required scopes) see `tools.read` for a
        holder of `*`. `check` and `allows` match wildcards and per-tool names themselves.
        """
        scopes = frozenset(scopes)
        mapped = scopes & self.scope_permissions.keys()
        narrowing = frozenset(scope for scope in scopes - mapped if is_permission_name(scope))
        permissions = self.permissions_of(roles)
        teams = {team: self.permissions_of(team_role) for team, team_role in (team_roles or {}).items()}
        if narrowing:
            permissions = narrow(permissions, narrowing)
            teams = {team: narrow(perms, narrowing) for team, perms in teams.items()}
        for scope in mapped:
            permissions = permissions | self.scope_permissions[scope]
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
        if _holds(principal.permissions, permission):
            return True
        if team is None:
            return False
        return _holds(principal.team_permissions.get(team, frozenset()), permission)

    def check(self, principal: Principal, permission: str, team: str | None = None) -> None:
        """Raise `PermissionDenied(permission)` unless `principal` holds `permission`."""
        if not self.allows(principal, permission, team):
            raise PermissionDenied(permission, scopes=self.scopes_granting(permission))

    def scopes_granting(self, permission: str) -> tuple[str, ...]:
        """The mapped OAuth scopes that would grant `permission` (the step-up a 403 asks for)."""
        return tuple(
            sorted(
                scope
                for scope, perms in self.scope_permissions.items()
                if any(grants(held, permission) for held in perms)
            )
        )

    def _warn_unknown(self, role: str) -> None:
        if role not in self._warned and len(self._warned) < _MAX_WARNED_ROLES:
            self._warned.add(role)
            logger.warning(LOG_UNKNOWN_ROLE, role)


def validate_requirement(permission: str, team: str | None, team_param: str | None) -> None:
    if not is_permission_name(permission):
        raise ConfigurationError(f"{permission!r} is not a permission name")
    if team is not None and team_param is not None:
        raise ConfigurationError("Give team or team_param, not both")


_HOLDS_MEMO_SIZE = 8192
_holds_memo: dict[tuple[frozenset[str], str], bool] = {}


def _holds(held: frozenset[str], wanted: str) -> bool:
    """Does one of `held` grant `wanted`? Remembered (bounded): principals share their
    permission sets, and a frozenset's hash is computed once, so a repeated check is one lookup."""
    key = (held, wanted)
    answer = _holds_memo.get(key)
    if answer is None:
        answer = any(grants(permission, wanted) for permission in held)
        if len(_holds_memo) >= _HOLDS_MEMO_SIZE:
            _holds_memo.clear()
        _holds_memo[key] = answer
    return answer
