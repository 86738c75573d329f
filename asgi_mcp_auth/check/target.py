"""What the checker is told about a gateway: where it is, tokens per role, and where it reports identity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["CookieLogin", "Target"]


@dataclass(frozen=True)
class CookieLogin:
    """A form login that answers with the session cookie: `POST path` with `fields`, per role."""

    path: str
    credentials: Mapping[str, tuple[str, str]]
    username_field: str = "username"
    password_field: str = "password"


@dataclass(frozen=True)
class Target:
    """A running MCP gateway, seen from outside.

    `url` is its origin (`http://127.0.0.1:8000`); `tokens` maps role names to bearer tokens, in
    the order given (the first two roles are "A" and "B" of the two-identity checks).
    `cookies` are session-cookie values per role; a role without one uses its token as the
    cookie value (as gateways that keep the JWT in a cookie do), unless `cookie_login` gets one.
    `whoami_route` (an HTTP GET route) and `whoami_tool` (an MCP tool) are where the gateway
    reports who is calling; `identity_field` is the JSON key they report it under (keys ending
    in `_<identity_field>` count too, so `context_sub` is compared with `sub`).
    """

    url: str
    tokens: Mapping[str, str]
    mcp_path: str = "/mcp/"
    whoami_route: str | None = "/whoami"
    whoami_tool: str | None = "whoami"
    identity_field: str = "sub"
    tool: str | None = None
    tool_arguments: Mapping[str, Any] = field(default_factory=dict)
    unprivileged_role: str = "viewer"
    cookie_name: str = "jwt_token"
    cookies: Mapping[str, str] = field(default_factory=dict)
    cookie_login: CookieLogin | None = None
    browser_page: str = "/admin"
    prefix: str | None = None
    root_path_headers: tuple[str, ...] = ("Daphne-Root-Path", "X-Forwarded-Prefix")
    timeout: float = 15.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url must be an http(s) origin, got {self.url!r}")
        if not self.mcp_path.startswith("/"):
            raise ValueError("mcp_path must start with '/'")
        if self.prefix is not None and (not self.prefix.startswith("/") or self.prefix.endswith("/")):
            raise ValueError("prefix must start with '/' and not end with one, e.g. '/gw'")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.tokens)

    @property
    def probe_tool(self) -> str | None:
        """The tool the permission checks call: `tool`, else the whoami tool."""
        return self.tool or self.whoami_tool

    def __repr__(self) -> str:
        # Never print tokens or cookies.
        return f"Target(url={self.url!r}, roles={list(self.tokens)!r}, mcp_path={self.mcp_path!r})"
