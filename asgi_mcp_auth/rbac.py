"""Compatibility path (`from asgi_mcp_auth.rbac import requires_permission`, as documented in
0.1.0). The policy lives in `asgi_mcp_auth.policy.rbac`, the decorator in
`asgi_mcp_auth.integrations.starlette`; both are exported from `asgi_mcp_auth`."""

from __future__ import annotations

from .integrations.starlette import requires_permission
from .policy.rbac import BUILTIN_ROLES, KNOWN_PERMISSIONS, RBACPolicy

__all__ = ["BUILTIN_ROLES", "KNOWN_PERMISSIONS", "RBACPolicy", "requires_permission"]
