"""`MCPAuthMiddleware`: a thin pure-ASGI shell around the shared `Authenticator`.

Trust assumptions: the middleware runs outside every route that needs an identity (add it to
the app, not to a router); `PUBLIC_ORIGIN` is set when a proxy changes scheme or host; the app
does not consult credentials itself but reads the principal this middleware stores.

Paths are judged as the router sees them (the route path, without `root_path`) and MCP
requests are found wherever they are mounted: see `asgi_mcp_auth.policy.paths`.

For every authenticated or public request it sets `scope[PRINCIPAL_KEY]`, `scope["user"]`,
`scope["auth"]` and the principal ContextVar, and resets the ContextVar when the app returns or
raises. A refused request gets an error response and the app is never called. An `AuthError`
that the app itself raises (`rbac.check(...)` in a route) gets the same response, as long as
the app has not started its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.errors import AuthError, PayloadTooLarge
from ..credentials.revocation import RevocationStore
from ..credentials.verifier import TokenVerifier
from ..policy.jsonrpc import UnreadableBody, parse_messages
from ..policy.mcp_headers import check_routing_headers
from ..policy.mcp_methods import MethodPermissions
from ..policy.paths import PathKind
from ..policy.rbac import RBACPolicy
from ..settings import AuthSettings
from .audit import audit
from .audit import logger as audit_logger
from .authenticator import AuthenticateCallable, Authenticator, Identity, RevocationCheck
from .body import ClientDisconnected, drain, read_body, replay
from .context import AUTHENTICATOR_KEY, PRINCIPAL_KEY, _principal
from .fallback import register_authenticator
from .responses import INTERNAL_ERROR_MESSAGE, error_response, internal_error_response, request_id_of
from .users import SDK_AUTH_CONTEXT

__all__ = ["MCPAuthMiddleware"]

logger = logging.getLogger("asgi_mcp_auth.middleware")
LOG_UNEXPECTED = "Unexpected error while authenticating %s %r"  # %r: a path may hold CR/LF

ERROR_ID_BODY_LIMIT = 65_536  # bytes read from a refused MCP request to echo its JSON-RPC id
WS_POLICY_VIOLATION = 1008
_UNCLASSIFIED = PathKind(public=False, mcp=False)  # until classify() has answered
_AUTHENTICATED_TYPES = frozenset({"http", "websocket"})
_STARTS = frozenset({"http.response.start", "websocket.accept", "websocket.close"})


class MCPAuthMiddleware:
    """Authenticates every `http` and `websocket` request; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: AuthSettings | None = None,
        authenticator: Authenticator | None = None,
        authenticate: AuthenticateCallable | None = None,
        verifier: TokenVerifier | None = None,
        rbac: RBACPolicy | None = None,
        is_revoked: RevocationCheck | None = None,
        revocation: RevocationStore | None = None,
        method_permissions: Mapping[str, str | None] | MethodPermissions | None = None,
    ) -> None:
        self.app = app
        if authenticator is None:
            settings = settings if settings is not None else AuthSettings()
            authenticator = Authenticator.from_settings(
                settings,
                verifier=verifier,
                authenticate=authenticate,
                rbac=rbac,
                is_revoked=is_revoked,
                revocation=revocation,
            )
        self.authenticator = authenticator
        self.stats = authenticator.stats  # plain counters: see asgi_mcp_auth.core.stats
        self.settings = authenticator.settings or settings
        self.resource_metadata_url = self.settings.resource_metadata_url if self.settings else None
        self.max_body_bytes = self.settings.mcp_max_body_bytes if self.settings else 1_048_576
        if isinstance(method_permissions, MethodPermissions):
            self.method_permissions = method_permissions
        elif method_permissions is not None:
            self.method_permissions = MethodPermissions(method_permissions)
        else:
            self.method_permissions = MethodPermissions.from_json(
                self.settings.mcp_method_permissions if self.settings else None
            )
        register_authenticator(authenticator)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in _AUTHENTICATED_TYPES:
            await self.app(scope, receive, send)
            return
        authenticator = self.authenticator
        scope[AUTHENTICATOR_KEY] = authenticator
        kind = _UNCLASSIFIED
        body: bytes | None = None
        identity: Identity | None = None
        try:
            kind = authenticator.paths.classify(scope)
            # No `Headers` object up front: a request with a bearer header never needs one.
            if not (kind.public or (scope.get("method") == "OPTIONS" and authenticator.is_cors_preflight(scope))):
                # `cached`: the known-token fast path of `identify`, without its awaits.
                identity = authenticator.cached(scope) or await authenticator.identify(scope)
                if kind.mcp and scope["type"] == "http" and scope["method"] == "POST":
                    body = await read_body(receive, self.max_body_bytes, scope)
                    self._check_mcp_body(identity, scope, body)
                    receive = replay(body, receive)
        except AuthError as error:
            self.stats.count_refusal(error)
            audit(scope, error.status_code, identity.principal if identity else None, error.message)
            await self._refuse(error, scope, receive, send, body, kind.mcp)
            return
        except ClientDisconnected:
            return
        except Exception:
            # Logged with its traceback, answered without it: the app is not called.
            logger.exception(LOG_UNEXPECTED, scope.get("method", "WS"), scope["path"])
            self.stats.count_internal_error()
            audit(scope, 500, None, INTERNAL_ERROR_MESSAGE)
            await self._internal_error(scope, receive, send, body, kind.mcp)
            return

        # The app's turn, inline (one coroutine less on every request).
        sdk_token = None
        if identity is None:
            self.stats.public += 1
            scope[PRINCIPAL_KEY] = None
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = AuthCredentials()
            token = _principal.set(None)
        else:
            self.stats.authenticated += 1
            if audit_logger.isEnabledFor(logging.DEBUG):
                audit(scope, 200, identity.principal)
            scope[PRINCIPAL_KEY] = identity.principal
            scope["user"] = identity.user
            scope["auth"] = identity.auth
            token = _principal.set(identity.principal)
            if SDK_AUTH_CONTEXT is not None:
                sdk_token = SDK_AUTH_CONTEXT.set(identity.user)
        started = False

        def tracking_send(message: Message) -> Awaitable[None]:
            # A plain function returning `send`'s awaitable: no coroutine of its own per message.
            nonlocal started
            if not started and message["type"] in _STARTS:
                started = True
            return send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except AuthError as error:
            # `rbac.check(...)` in a route: the same answer the middleware gives, not a 500.
            # Once the app has started its response there is no answer left to give.
            if started:
                raise
            self.stats.count_refusal(error)
            audit(scope, error.status_code, identity.principal if identity else None, error.message)
            await self._refuse(error, scope, receive, send, None, kind.mcp, read_id=False)
        finally:
            if sdk_token is not None:
                SDK_AUTH_CONTEXT.reset(sdk_token)  # type: ignore[union-attr]
            _principal.reset(token)

    def _check_mcp_body(self, identity: Identity, scope: Scope, body: bytes) -> None:
        messages = parse_messages(body)
        if messages is None:
            raise UnreadableBody()
        check_routing_headers(scope["headers"], messages)
        for permission in self.method_permissions.required_for_messages(messages):
            self.authenticator.rbac.check(identity.principal, permission)

    async def _refuse(
        self,
        error: AuthError,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes | None,
        is_mcp: bool,
        *,
        read_id: bool = True,
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": error.message[:120]})
            return
        request_id = None
        if isinstance(error, PayloadTooLarge):
            await drain(receive)
        elif read_id:
            request_id = await self._request_id(scope, receive, body, is_mcp)
        response = error_response(
            error,
            jsonrpc=is_mcp,
            request_id=request_id,
            resource_metadata_url=self.resource_metadata_url,
            scopes=self.authenticator.rbac.challenge_scopes,
        )
        await response(scope, receive, send)

    async def _internal_error(
        self, scope: Scope, receive: Receive, send: Send, body: bytes | None, is_mcp: bool
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})
            return
        request_id = await self._request_id(scope, receive, body, is_mcp)
        await internal_error_response(jsonrpc=is_mcp, request_id=request_id)(scope, receive, send)

    @staticmethod
    async def _request_id(scope: Scope, receive: Receive, body: bytes | None, is_mcp: bool) -> Any:
        if not is_mcp or scope.get("method") != "POST":
            return None
        if body is None:
            try:
                body = await read_body(receive, ERROR_ID_BODY_LIMIT, scope)
            except (PayloadTooLarge, ClientDisconnected, OSError):
                return None
        return request_id_of(body[:ERROR_ID_BODY_LIMIT])
