"""`request.auth` of an authenticated request: one immutable object per permission set."""

from __future__ import annotations

from starlette.authentication import AuthCredentials

__all__ = ["GrantedCredentials", "granted_credentials"]

_GRANTED_MEMO_SIZE = 4096


class GrantedCredentials(AuthCredentials):
    """`request.auth`: "authenticated" and the effective permissions, sorted.

    One instance serves every identity with the same permissions (a cache of 10 000 tokens
    holds a handful), so its scopes cannot change in place: `scopes` is a fresh list on each
    read, and assigning it raises. A route that appended to a shared list would otherwise grant
    a permission to every other caller with the same roles.
    """

    def __init__(self, permissions: frozenset[str]) -> None:  # not super().__init__: no list to keep
        # "authenticated" first: Starlette's own convention, so `@requires("authenticated")` works.
        self._scopes = ("authenticated", *sorted(permissions))

    @property
    def scopes(self) -> list[str]:
        return list(self._scopes)

    @scopes.setter
    def scopes(self, value: list[str]) -> None:
        raise AttributeError("request.auth.scopes is read-only: the permissions come from the policy")

    def __repr__(self) -> str:
        return f"GrantedCredentials(scopes={list(self._scopes)!r})"


_granted: dict[frozenset[str], GrantedCredentials] = {}


def granted_credentials(permissions: frozenset[str]) -> GrantedCredentials:
    """The shared `GrantedCredentials` of `permissions` (bounded memo; equal sets, one object)."""
    credentials = _granted.get(permissions)
    if credentials is None:
        if len(_granted) >= _GRANTED_MEMO_SIZE:
            _granted.clear()
        credentials = _granted[permissions] = GrantedCredentials(permissions)
    return credentials
