"""asgi-mcp-auth: one request, one identity, for MCP gateways and servers on ASGI.

app.add_middleware(MCPAuthMiddleware)   # configured from MCP_AUTH_* variables
"""

from __future__ import annotations

from .authenticator import Authenticator, Identity
from .browser import BrowserPolicy
from .context import PRINCIPAL_KEY, current_principal, get_authenticator, principal_from, resolve_principal
from .errors import (
    AuthenticationError,
    AuthError,
    ConfigurationError,
    CredentialsMissing,
    CrossSiteRequest,
    InvalidRequest,
    PermissionDenied,
)
from .mcp_methods import MethodPermissions
from .middleware import MCPAuthMiddleware
from .precedence import Credential, PrecedencePolicy
from .principal import AuthResult, Principal, TokenSource
from .rbac import RBACPolicy, requires_permission
from .settings import AuthSettings
from .verify import JWTVerifier, TokenVerifier

__all__ = [
    "PRINCIPAL_KEY",
    "AuthError",
    "AuthResult",
    "AuthSettings",
    "AuthenticationError",
    "Authenticator",
    "BrowserPolicy",
    "ConfigurationError",
    "Credential",
    "CredentialsMissing",
    "CrossSiteRequest",
    "Identity",
    "InvalidRequest",
    "JWTVerifier",
    "MethodPermissions",
    "MCPAuthMiddleware",
    "PermissionDenied",
    "PrecedencePolicy",
    "Principal",
    "RBACPolicy",
    "TokenSource",
    "TokenVerifier",
    "current_principal",
    "get_authenticator",
    "principal_from",
    "requires_permission",
    "resolve_principal",
]

__version__ = "0.1.0"
