"""`Principal`: the one identity a request resolves to."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from starlette.authentication import BaseUser

__all__ = ["AuthResult", "Principal", "PrincipalUser", "PrincipalUserMixin", "TokenSource"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class TokenSource(str, enum.Enum):
    """Where the credential that authenticated the request came from."""

    HEADER = "header"
    COOKIE = "cookie"
    CUSTOM = "custom"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller. Immutable: the same object may serve many requests.

    `permissions` are the effective permissions (roles expanded, narrowed by token scopes);
    `team_permissions` the same per team. `claims` is a read-only view of the token's claims.
    """

    subject: str
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    client_id: str | None = None
    email: str | None = None
    name: str | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    team_roles: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)
    permissions: frozenset[str] = frozenset()
    team_permissions: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)
    token_source: TokenSource = TokenSource.HEADER
    expires_at: int | None = None
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.subject, str) or not self.subject:
            raise TypeError("Principal.subject must be a non-empty string")
        for name in ("claims", "team_roles", "team_permissions"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))

    @classmethod
    def _from_checked(cls, *values: Any) -> Principal:
        """A principal from every field's value, in field order, already in final form (tuples,
        frozensets, read-only mappings), as `ClaimsMapper` produces them: none is copied. Half
        the cost of `__init__` on the path of every new token (a frozen dataclass sets each
        field through `object.__setattr__`)."""
        if len(values) != len(_SLOT_SETTERS):
            raise TypeError(f"Principal._from_checked takes {len(_SLOT_SETTERS)} values")
        principal = object.__new__(cls)
        for set_slot, value in zip(_SLOT_SETTERS, values, strict=False):
            set_slot(principal, value)
        if not isinstance(principal.subject, str) or not principal.subject:
            raise TypeError("Principal.subject must be a non-empty string")
        for name in ("claims", "team_roles", "team_permissions"):
            if not isinstance(getattr(principal, name), MappingProxyType):
                raise TypeError(f"Principal.{name} must be a read-only mapping here")
        return principal


_SLOT_SETTERS = tuple(Principal.__dict__[field.name].__set__ for field in fields(Principal))


@dataclass(frozen=True, slots=True)
class AuthResult:
    """What a custom `authenticate(conn)` callable may return.

    Only `authenticated is True` together with a `principal` authenticates; anything else is
    a refusal, with `error` as the public message when it is a string.
    """

    authenticated: bool
    principal: Principal | None = None
    error: str | None = None


class PrincipalUserMixin:
    """What every Starlette user of this package answers from its `principal`."""

    __slots__ = ()
    principal: Principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.name or self.principal.email or self.principal.subject

    @property
    def identity(self) -> str:
        return self.principal.subject

    def __repr__(self) -> str:
        return f"{type(self).__name__}(subject={self.principal.subject!r})"


class PrincipalUser(PrincipalUserMixin, BaseUser):
    """The Starlette user for a `Principal` (`request.user`), when the `mcp` SDK is absent."""

    __slots__ = ("principal",)

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
