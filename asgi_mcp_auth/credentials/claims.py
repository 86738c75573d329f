"""`ClaimsMapper`: verified token claims to a `Principal` with its effective permissions.

Every claim is checked for its JSON type: a claim of an unexpected type is a malformed token
(`AuthenticationError`, 401), never an exception that becomes a 500.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from sys import intern
from types import MappingProxyType
from typing import Any, TypeVar

from ..core.errors import AuthenticationError
from ..core.principal import Principal, TokenSource
from ..policy.rbac import RBACPolicy

__all__ = ["ClaimsMapper"]


def _strings(value: Any, claim: str, *, split: bool = False) -> frozenset[str]:
    if value is None:
        return frozenset()
    if split and (
        (isinstance(value, str) and "," in value) or (isinstance(value, list) and any("," in str(v) for v in value))
    ):
        # RFC 6749 §3.3: scopes are space-separated. "a,b" read as one unknown scope would
        # silently leave the token unnarrowed: refused as malformed instead.
        raise AuthenticationError(f"Malformed {claim} claim: scopes are separated by spaces")
    if isinstance(value, str):
        return frozenset(value.split() if split else value.replace(",", " ").split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise AuthenticationError(f"Malformed {claim} claim")


_GrantKey = tuple[frozenset[str], frozenset[str], frozenset[tuple[str, frozenset[str]]]]
_Grants = tuple[frozenset[str], frozenset[str], frozenset[str], Mapping[str, frozenset[str]]]
_GRANTS_MEMO_SIZE = 1024


def _optional_string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value
    raise AuthenticationError(f"Malformed {name} claim")


def _audience(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise AuthenticationError("Malformed aud claim")


_T = TypeVar("_T", bound=Hashable)
_NO_TEAM_ROLES: Mapping[str, frozenset[str]] = MappingProxyType({})
_INTERNED_VALUE_CHARS = 256


def _compact(claims: Mapping[str, Any]) -> dict[str, Any]:
    """A private copy of `claims` for a cached principal, its names and short string values
    interned: `iss`, `aud`, `sub`... repeat across thousands of cached tokens, and a JSON
    decoder makes new strings for each token."""
    return {
        intern(name): intern(value) if type(value) is str and len(value) <= _INTERNED_VALUE_CHARS else value
        for name, value in claims.items()
        if type(name) is str
    }


class ClaimsMapper:
    """Maps verified claims to a `Principal` with its effective permissions."""

    def __init__(
        self,
        *,
        rbac: RBACPolicy | None = None,
        roles_claim: str = "roles",
        teams_claim: str = "teams",
        team_roles_claim: str = "team_roles",
    ) -> None:
        self.rbac = rbac or RBACPolicy()
        self.roles_claim = roles_claim
        self.teams_claim = teams_claim
        self.team_roles_claim = team_roles_claim
        self._effective: dict[_GrantKey, _Grants] = {}
        self._values: dict[Hashable, Any] = {}

    def __call__(self, claims: Mapping[str, Any], source: TokenSource) -> Principal:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("Token has no subject")
        scopes = _strings(claims.get("scope"), "scope", split=True) | _strings(claims.get("scp"), "scp", split=True)
        raw_team_roles = claims.get(self.team_roles_claim)
        if raw_team_roles is None:
            raw_team_roles = {}
        if not isinstance(raw_team_roles, dict):
            raise AuthenticationError(f"Malformed {self.team_roles_claim} claim")
        team_roles = {str(team): _strings(roles, self.team_roles_claim) for team, roles in raw_team_roles.items()}
        roles = _strings(claims.get(self.roles_claim), self.roles_claim)
        audience = _audience(claims.get("aud"))
        roles, scopes, permissions, team_permissions = self._permissions(roles, scopes, team_roles)
        expires_at = claims.get("exp")
        client_id = _optional_string(claims, "client_id")
        authorized_party = _optional_string(claims, "azp")
        # In field order: see `Principal._from_checked`.
        return Principal._from_checked(
            subject,
            _optional_string(claims, "iss"),
            self._shared(audience),
            client_id or authorized_party,
            _optional_string(claims, "email"),
            _optional_string(claims, "name"),
            roles,
            scopes,
            self._shared(_strings(claims.get(self.teams_claim), self.teams_claim) | frozenset(team_roles)),
            MappingProxyType(team_roles) if team_roles else _NO_TEAM_ROLES,
            permissions,
            team_permissions,
            source,
            int(expires_at) if isinstance(expires_at, int | float) else None,
            MappingProxyType(_compact(claims)),
        )

    def _shared(self, value: _T) -> _T:
        """`value`, or an equal immutable value seen before: cached principals share them."""
        shared = self._values.get(value)
        if shared is None:
            if len(self._values) >= _GRANTS_MEMO_SIZE:
                self._values.clear()
            shared = self._values[value] = value
        return shared

    def _permissions(
        self, roles: frozenset[str], scopes: frozenset[str], team_roles: Mapping[str, frozenset[str]]
    ) -> _Grants:
        """(roles, scopes, permissions, team permissions); equal sets come back as one object.

        Expanding roles is the costliest step of a verification, and the tokens of a client
        repeat the same roles and scopes: the answer is remembered (bounded; the policy is fixed),
        and principals share these immutable sets, which keeps cached identities small.
        """
        key = (roles, scopes, frozenset(team_roles.items()))
        grants = self._effective.get(key)
        if grants is None:
            grants = (roles, scopes, *self.rbac.effective(roles, scopes, team_roles))
            if len(self._effective) >= _GRANTS_MEMO_SIZE:
                self._effective.clear()
            self._effective[key] = grants
        return grants
