"""asgi-mcp-auth: one request, one identity, for MCP gateways and servers on ASGI.

app.add_middleware(MCPAuthMiddleware)   # configured from MCP_AUTH_* variables

The package is layered (see docs/architecture.md): `core` (the vocabulary), `policy`,
`settings`, `credentials`, `pipeline` and `integrations`, each importing only the layers
below it. Everything a user needs is re-exported here.
"""

from __future__ import annotations

from .core.errors import (
    AuthenticationError,
    AuthError,
    ConfigurationError,
    CredentialsMissing,
    CrossSiteRequest,
    HeaderMismatch,
    InvalidRequest,
    PermissionDenied,
    ServiceUnavailable,
    UnsupportedScheme,
)
from .core.principal import AuthResult, Principal, TokenSource
from .credentials.jwks import JWKSClient, JWKSError
from .credentials.jwt import JWTVerifier
from .credentials.revocation import InMemoryRevocationStore, Revocation, RevocationStore
from .credentials.verifier import TokenVerifier
from .integrations.starlette import requires_permission
from .pipeline.authenticator import Authenticator, Identity
from .pipeline.context import PRINCIPAL_KEY, current_principal, principal_from
from .pipeline.fallback import get_authenticator, resolve_principal
from .pipeline.middleware import MCPAuthMiddleware
from .policy.browser import BrowserPolicy
from .policy.mcp_methods import MethodPermissions
from .policy.precedence import Credential, PrecedencePolicy
from .policy.rbac import RBACPolicy
from .settings import AuthSettings

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
    "HeaderMismatch",
    "InMemoryRevocationStore",
    "InvalidRequest",
    "JWKSClient",
    "JWKSError",
    "JWTVerifier",
    "MethodPermissions",
    "MCPAuthMiddleware",
    "PermissionDenied",
    "PrecedencePolicy",
    "Principal",
    "RBACPolicy",
    "Revocation",
    "RevocationStore",
    "ServiceUnavailable",
    "TokenSource",
    "TokenVerifier",
    "UnsupportedScheme",
    "current_principal",
    "get_authenticator",
    "principal_from",
    "requires_permission",
    "resolve_principal",
]

__version__ = "0.1.0"
