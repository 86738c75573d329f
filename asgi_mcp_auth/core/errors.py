"""The package's exceptions.

    Exception
    ├── AuthError                      refused request; the app is never called
    │   ├── AuthenticationError        401  WWW-Authenticate: Bearer error="invalid_token"
    │   │   └── CredentialsMissing     401  WWW-Authenticate: Bearer  (no error=, RFC 6750 §3.1)
    │   │       └── UnsupportedScheme  401  the same: `Authorization` with another scheme than Bearer
    │   ├── InvalidRequest             400  WWW-Authenticate: Bearer error="invalid_request"
    │   │   ├── PayloadTooLarge        413  no challenge: an MCP body too large to authorize
    │   │   └── HeaderMismatch         400  no challenge; JSON-RPC code -32020 (SEP-2243)
    │   ├── PermissionDenied           403  WWW-Authenticate: Bearer error="insufficient_scope"
    │   │   └── CrossSiteRequest       403  no challenge: a cookie sent from a foreign origin
    │   └── ServiceUnavailable         503  Retry-After: the token could not be checked (outage)
    └── ConfigurationError             raised at start-up, never while serving

The status code of a refusal is a property of the exception's type, never of its message.
Every message is public: it is written into the response body, so it never holds a token,
a secret or the text of another exception.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "AuthenticationError",
    "ConfigurationError",
    "CredentialsMissing",
    "CrossSiteRequest",
    "HeaderMismatch",
    "InvalidRequest",
    "PayloadTooLarge",
    "PermissionDenied",
    "ServiceUnavailable",
    "UnsupportedScheme",
]


class AuthError(Exception):
    """A refused request. Subclasses fix the status code and the RFC 6750 error code."""

    status_code: int = 401
    error_code: str | None = "invalid_token"
    default_message: str = "Authentication failed"
    jsonrpc_code: int = -32000  # the JSON-RPC error code of the refusal on MCP endpoints

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class AuthenticationError(AuthError):
    """The credential is present but not acceptable: invalid, expired, not for this resource."""


class CredentialsMissing(AuthenticationError):
    """No credential at all: the challenge carries no error code (RFC 6750 §3.1)."""

    error_code = None
    default_message = "Authentication required"


class UnsupportedScheme(CredentialsMissing):
    """`Authorization` with a scheme other than Bearer, or `Bearer` with no token: to this
    resource the request carries no credential, and the plain challenge tells a client to start
    OAuth discovery (an MCP client does so on a 401, not on a 400)."""

    default_message = "Only the Bearer scheme is supported"


class InvalidRequest(AuthError):
    """The request is ambiguous or malformed: two tokens, an unknown scheme, a bad header."""

    status_code = 400
    error_code: str | None = "invalid_request"
    default_message = "Malformed credentials"


class PayloadTooLarge(InvalidRequest):
    """An MCP request body too large to inspect for method permissions: not granted unseen."""

    status_code = 413
    error_code = None
    default_message = "Request body too large to authorize"


class HeaderMismatch(InvalidRequest):
    """An MCP routing header (`Mcp-Method`, `Mcp-Name`) disagrees with the JSON-RPC body."""

    error_code = None
    default_message = "MCP routing headers do not match the request body"
    jsonrpc_code = -32020


class PermissionDenied(AuthError):
    """Authenticated, but not allowed. `permission` names what was missing, when known."""

    status_code = 403
    error_code: str | None = "insufficient_scope"
    default_message = "Permission denied"

    def __init__(
        self, permission: str | None = None, message: str | None = None, *, scopes: tuple[str, ...] = ()
    ) -> None:
        self.permission = permission
        #: OAuth scopes that would grant `permission` (from `SCOPE_PERMISSIONS`), for the
        #: challenge's `scope=`: a client's step-up asks its authorization server for these.
        self.scopes = scopes
        if message is None and permission is not None:
            message = f"Permission denied: {permission} required"
        super().__init__(message)


class CrossSiteRequest(PermissionDenied):
    """A cookie credential on an unsafe method from a foreign origin (CSRF)."""

    error_code = None
    default_message = "Cross-site request refused"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(None, message)


class ServiceUnavailable(AuthError):
    """The credential could not be checked now (the authorization server is down, slow or
    flooded). Not the client's fault: its token is not declared invalid, it should retry after
    `retry_after` seconds (the `Retry-After` header)."""

    status_code = 503
    error_code: str | None = None
    default_message = "Authentication temporarily unavailable"

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ConfigurationError(Exception):
    """An invalid or insecure configuration, raised when the settings or middleware are built.

    Deliberately not a `ValueError`: pydantic would wrap a `ValueError` raised in a validator
    into its own `ValidationError` and lose the variable's name.
    """
