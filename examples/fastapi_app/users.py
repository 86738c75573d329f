"""Dev users and the tokens the dev login issues. For demos and tests only: a real gateway
signs users in through its identity provider and never keeps passwords in an environment
variable.

`EXAMPLE_DEV_USERS` lists users as `name:password:role[+role...]`, separated by commas::

    EXAMPLE_DEV_USERS="admin:adminpass:admin,viewer:viewerpass:viewer"
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from asgi_mcp_auth import AuthSettings, ConfigurationError

__all__ = [
    "DEFAULT_DEV_USERS",
    "DEV_USERS_ENV",
    "TOKEN_TTL_SECONDS",
    "DevUser",
    "TokenIssuer",
    "dev_users_from_env",
    "parse_dev_users",
]

DEV_USERS_ENV = "EXAMPLE_DEV_USERS"
DEFAULT_DEV_USERS = "admin:adminpass:admin,developer:devpass:developer,viewer:viewerpass:viewer"
TOKEN_TTL_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class DevUser:
    name: str
    password: str
    roles: tuple[str, ...]

    def __repr__(self) -> str:
        return f"DevUser(name={self.name!r}, roles={self.roles!r})"


def parse_dev_users(value: str) -> Mapping[str, DevUser]:
    """Parse `name:password:role[+role...]` entries separated by commas."""
    users: dict[str, DevUser] = {}
    entries = [item.strip() for item in value.split(",") if item.strip()]
    for number, entry in enumerate(entries, start=1):
        name, _, rest = entry.partition(":")
        password, _, roles = rest.partition(":")
        if entry.count(":") != 2 or not name or not password or not roles:
            # Never echo the entry: it holds a password.
            raise ConfigurationError(f"{DEV_USERS_ENV} entry {number} is not name:password:role")
        users[name] = DevUser(name, password, tuple(role for role in roles.split("+") if role))
    return users


def dev_users_from_env() -> Mapping[str, DevUser]:
    return parse_dev_users(os.environ.get(DEV_USERS_ENV, DEFAULT_DEV_USERS))


_DUMMY = DevUser("", secrets.token_urlsafe(16), ())


def check_password(users: Mapping[str, DevUser], name: str, password: str) -> DevUser | None:
    """The user when `password` is theirs. Constant time in the password, and an unknown name
    costs the same comparison as a known one."""
    user = users.get(name, _DUMMY)
    matches = hmac.compare_digest(user.password.encode(), password.encode())
    return user if matches and user is not _DUMMY else None


class TokenIssuer:
    """Signs dev tokens with the gateway's own HMAC key, for its own audience and issuer."""

    def __init__(self, settings: AuthSettings, *, ttl_seconds: int = TOKEN_TTL_SECONDS) -> None:
        self.key = settings.jwt_secret.get_secret_value() if settings.jwt_secret is not None else None
        self.algorithm = settings.jwt_algorithms[0]
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.ttl_seconds = ttl_seconds

    @property
    def enabled(self) -> bool:
        """False when the gateway verifies with a public key: it cannot sign tokens itself."""
        return self.key is not None

    def __repr__(self) -> str:
        return f"TokenIssuer(algorithm={self.algorithm!r}, audience={self.audience!r}, enabled={self.enabled})"

    def issue(self, user: DevUser) -> str:
        if self.key is None:
            raise RuntimeError("Dev tokens need MCP_AUTH_JWT_SECRET")
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": user.name,
            "email": f"{user.name}@example.com",
            "name": user.name.title(),
            "roles": list(user.roles),
            "teams": ["demo"],
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        if self.audience is not None:
            claims["aud"] = self.audience
        if self.issuer is not None:
            claims["iss"] = self.issuer
        return jwt.encode(claims, self.key, algorithm=self.algorithm)
