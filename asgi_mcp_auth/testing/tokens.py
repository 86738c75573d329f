"""`TokenFactory`: signed JWTs for tests, with roles, scopes and team roles as the middleware reads them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from .keys import SigningKey

__all__ = ["DEFAULT_AUDIENCE", "DEFAULT_ISSUER", "TokenFactory"]

DEFAULT_AUDIENCE = "https://gateway.test/mcp"
DEFAULT_ISSUER = "https://idp.test"


@dataclass(frozen=True)
class TokenFactory:
    """Signs tokens with `key` for `audience` and `issuer`.

    `make_token(sub=..., roles=..., scope=..., team_roles=..., expires_in=...)` is a valid
    token; `expired(...)` and `wrong_audience(...)` are the same with one thing wrong.
    """

    key: SigningKey
    audience: str = DEFAULT_AUDIENCE
    issuer: str = DEFAULT_ISSUER

    def claims(
        self,
        sub: str = "alice",
        *,
        roles: Iterable[str] | None = None,
        scope: str | Iterable[str] | None = None,
        team_roles: Mapping[str, Iterable[str]] | None = None,
        expires_in: float = 600,
        audience: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The claims `make_token` signs; `extra` are added as they are."""
        now = int(time.time())
        values: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "aud": audience or self.audience,
            "iat": now,
            "exp": now + int(expires_in),
        }
        if roles is not None:
            values["roles"] = list(roles)
        if scope is not None:
            values["scope"] = scope if isinstance(scope, str) else " ".join(scope)
        if team_roles is not None:
            values["team_roles"] = {team: list(names) for team, names in team_roles.items()}
        values.update(extra)
        return values

    def make_token(self, sub: str = "alice", **options: Any) -> str:
        """A signed token for `sub` (see `claims` for the options)."""
        headers = {"kid": self.key.kid} if self.key.jwk is not None else None
        return jwt.encode(self.claims(sub, **options), self.key.signing_key, self.key.algorithm, headers=headers)

    def expired(self, sub: str = "alice", **options: Any) -> str:
        """Expired an hour ago: beyond any leeway."""
        options.setdefault("iat", int(time.time()) - 7200)
        return self.make_token(sub, expires_in=-3600, **options)

    def wrong_audience(self, sub: str = "alice", **options: Any) -> str:
        """Valid in every way but for another resource."""
        return self.make_token(sub, audience="https://another-resource.test/mcp", **options)
