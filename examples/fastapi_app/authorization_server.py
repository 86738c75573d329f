"""The example's development authorization server, built on authlib's OAuth 2 server.

What an MCP client needs to log in, and no more: RFC 8414 metadata, open dynamic client
registration (RFC 7591), the authorization code grant with PKCE S256 only (RFC 7636, OAuth 2.1),
refresh tokens, the RFC 8707 `resource` indicator (it must be the gateway's MCP URL and becomes
the token's audience), and access tokens that are JWTs signed with the gateway's dev key or
opaque strings checked at its introspection endpoint (RFC 7662).

The user's roles decide which requested scopes are granted (`SCOPE_ROLES`): a viewer asking for
`mcp:tools` gets a token without it. For development only: in memory, no consent page, loopback.
The HTTP side (login form, routes) is in `oauth_routes.py`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any, Literal

import jwt
from authlib.oauth2 import rfc6749
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.requests import OAuth2Request
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from starlette.responses import JSONResponse, Response

from .oauth_store import AuthorizationCode, Client, IssuedToken, Store
from .users import DevUser

__all__ = [
    "ACCESS_TOKEN_TTL_SECONDS",
    "DEFAULT_SCOPE",
    "SCOPE_PERMISSIONS",
    "SCOPE_ROLES",
    "DevAuthorizationServer",
    "InvalidTargetError",
    "TokenFormat",
]

TokenFormat = Literal["jwt", "opaque"]

#: Which roles may be granted each scope the dev server knows.
SCOPE_ROLES: Mapping[str, frozenset[str]] = {
    "mcp:read": frozenset({"admin", "developer", "viewer"}),
    "mcp:tools": frozenset({"admin", "developer"}),
    "gateways:admin": frozenset({"admin"}),
}
#: What each scope grants at the gateway: the example's `MCP_AUTH_SCOPE_PERMISSIONS`.
SCOPE_PERMISSIONS: Mapping[str, list[str]] = {
    "mcp:read": ["tools.read", "resources.read", "prompts.read"],
    "mcp:tools": ["tools.execute"],
    "gateways:admin": ["gateways.read", "gateways.update"],
}
#: Granted when an authorization request names no scope (least privilege).
DEFAULT_SCOPE = "mcp:read"
ACCESS_TOKEN_TTL_SECONDS = 3600
REFRESH_TOKEN_TTL_SECONDS = 86400
_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: the `resource` is missing, or not the one this server issues tokens for."""

    error = "invalid_target"
    description = "The resource must be this gateway's MCP endpoint."


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE on every authorization request, S256 only: `plain` and no PKCE at all are refused."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's class attribute

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class DevAuthorizationServer(rfc6749.AuthorizationServer):  # type: ignore[misc]
    """authlib's authorization server with in-memory records (`store`) and the dev users.

    `introspection_client` is the gateway's own `(client_id, client_secret)` at `/oauth/introspect`
    (opaque tokens only). `handle_response` answers Starlette responses.
    """

    def __init__(
        self,
        *,
        issuer: str,
        resource: str,
        users: Mapping[str, DevUser],
        token_format: TokenFormat = "jwt",  # noqa: S107 - a format name, not a secret
        signing_key: str | None = None,
        algorithm: str = "HS256",
        introspection_client: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(scopes_supported=list(SCOPE_ROLES))
        if token_format == "jwt" and signing_key is None:
            raise ValueError("JWT access tokens need the dev signing key (MCP_AUTH_JWT_SECRET)")
        if token_format == "opaque" and introspection_client is None:
            raise ValueError("Opaque access tokens need the gateway's introspection client credentials")
        self.issuer = issuer.rstrip("/")
        self.resource = resource
        self.users = users
        self.token_format = token_format
        self.signing_key = signing_key or ""
        self.algorithm = algorithm
        self.store = Store()
        self.introspection_client_id: str | None = None
        if introspection_client is not None:
            client_id, client_secret = introspection_client
            self.introspection_client_id = client_id
            self.store.clients[client_id] = Client(
                client_id, client_secret, [], "client_secret_basic", grant_types=[], response_types=[]
            )
        self.register_grant(_CodeGrant, [S256Only(required=True)])
        self.register_grant(_RefreshGrant)
        self.register_endpoint(_Registration(self))
        if token_format == "opaque":
            self.register_endpoint(_Introspection(self))

    # --- authlib's framework hooks -------------------------------------------------------

    def query_client(self, client_id: str) -> Client | None:
        return self.store.client(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        pass  # recorded when made (`issue`)

    def create_oauth2_request(self, request: Any) -> Any:
        return request  # oauth_routes builds authlib requests itself

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        headers = dict(headers or [])
        if isinstance(body, dict):
            headers.pop("Content-Type", None)
            return JSONResponse(body, status_code=status, headers=headers)
        return Response(body or b"", status_code=status, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    # --- what the dev server decides -----------------------------------------------------

    def endpoint(self, path: str) -> str:
        return f"{self.issuer}{path}"

    def metadata(self) -> dict[str, Any]:
        """The RFC 8414 document (validated by authlib)."""
        document: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("/oauth/authorize"),
            "token_endpoint": self.endpoint("/oauth/token"),
            "registration_endpoint": self.endpoint("/oauth/register"),
            "scopes_supported": list(SCOPE_ROLES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
        }
        if self.token_format == "opaque":
            document["introspection_endpoint"] = self.endpoint("/oauth/introspect")
            document["introspection_endpoint_auth_methods_supported"] = ["client_secret_basic", "client_secret_post"]
        AuthorizationServerMetadata(document).validate()
        return document

    def grantable_scope(self, user: DevUser, requested: str | None) -> str:
        """The requested scopes the user's roles allow (`DEFAULT_SCOPE` when none was asked)."""
        roles = set(user.roles)
        wanted = scope_to_list(requested) if requested else [DEFAULT_SCOPE]
        return str(list_to_scope([item for item in wanted if SCOPE_ROLES.get(item, frozenset()) & roles]) or "")

    def checked_resource(self, value: str | None) -> str:
        """RFC 8707: the one resource this server issues tokens for, compared exactly."""
        if value != self.resource:
            raise InvalidTargetError()
        return self.resource

    def issue(self, client: Client, user: DevUser, scope: str, resource: str, *, refresh: bool) -> dict[str, Any]:
        """A token response for `user`; opaque access tokens and refresh tokens are recorded."""
        now = int(time.time())
        if self.token_format == "opaque":
            value = secrets.token_urlsafe(32)
            expires = now + ACCESS_TOKEN_TTL_SECONDS
            self.store.tokens[value] = IssuedToken(value, client.client_id, user.name, scope, resource, now, expires)
        else:
            claims = {
                "iss": self.issuer,
                "sub": user.name,
                "aud": resource,
                "client_id": client.client_id,
                "scope": scope,
                "iat": now,
                "exp": now + ACCESS_TOKEN_TTL_SECONDS,
                "jti": secrets.token_urlsafe(12),
            }
            value = jwt.encode(claims, self.signing_key, algorithm=self.algorithm)
        token = {"token_type": "Bearer", "access_token": value, "expires_in": ACCESS_TOKEN_TTL_SECONDS, "scope": scope}
        if refresh:
            refresh_value = secrets.token_urlsafe(32)
            expires = now + REFRESH_TOKEN_TTL_SECONDS
            self.store.refresh_tokens[refresh_value] = IssuedToken(
                refresh_value, client.client_id, user.name, scope, resource, now, expires
            )
            token["refresh_token"] = refresh_value
        return token


def _server(grant_or_endpoint: Any) -> DevAuthorizationServer:
    server: DevAuthorizationServer = grant_or_endpoint.server
    return server


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        server = _server(self)
        data = request.payload.data
        scope = server.grantable_scope(request.user, request.scope)
        if not scope:  # the user may have none of the scopes asked for
            raise AccessDeniedError(
                description="None of the requested scopes can be granted to this user", redirect_uri=self.redirect_uri
            )
        server.store.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=scope,
            user=request.user.name,
            resource=server.checked_resource(data.get("resource")),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        store = _server(self).store
        return None if store.replayed(code) else store.code(code, client)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        issued: list[str] = getattr(self, "_issued", [])
        _server(self).store.spend(authorization_code, issued)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> DevUser | None:
        return _server(self).users.get(authorization_code.user)

    def generate_token(
        self, user: DevUser | None = None, scope: str | None = None, include_refresh_token: bool = True, **_: Any
    ) -> dict[str, Any]:
        server = _server(self)
        code: AuthorizationCode = self.request.authorization_code
        if "resource" in self.request.form:  # the token request may repeat the resource, never change it
            server.checked_resource(self.request.form.get("resource"))
        if user is None:
            raise AccessDeniedError()
        token = server.issue(self.request.client, user, scope or "", code.resource, refresh=include_refresh_token)
        self._issued = [token["access_token"], *([token["refresh_token"]] if "refresh_token" in token else [])]
        return token


class _RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: each refresh token works once

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        return _server(self).store.refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: IssuedToken) -> DevUser | None:
        return _server(self).users.get(refresh_token.user)

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        refresh_token.revoked = True

    def generate_token(
        self, user: DevUser | None = None, scope: str | None = None, include_refresh_token: bool = True, **_: Any
    ) -> dict[str, Any]:
        server = _server(self)
        old: IssuedToken = self.request.refresh_token
        if "resource" in self.request.form:
            server.checked_resource(self.request.form.get("resource"))
        if user is None:
            raise AccessDeniedError()
        granted = server.grantable_scope(user, scope or old.scope)  # the roles decide again
        return server.issue(self.request.client, user, granted, old.resource, refresh=include_refresh_token)


class _Registration(ClientRegistrationEndpoint):  # type: ignore[misc]
    """Open registration (RFC 7591), as MCP clients expect of a dev server. A client registered
    with `token_endpoint_auth_method=none` is public and gets no secret."""

    def authenticate_token(self, request: Any) -> bool:
        return True

    def get_server_metadata(self) -> dict[str, Any]:
        return _server(self).metadata()

    def extract_client_metadata(self, request: Any) -> dict[str, Any]:
        metadata: dict[str, Any] = super().extract_client_metadata(request)
        if not metadata.get("redirect_uris"):
            raise InvalidRequestError("redirect_uris is required")
        metadata.setdefault("token_endpoint_auth_method", "client_secret_basic")  # RFC 7591 §2
        metadata.setdefault("grant_types", ["authorization_code"])
        metadata.setdefault("response_types", ["code"])
        return metadata

    def generate_client_info(self, request: Any) -> dict[str, Any]:
        info: dict[str, Any] = super().generate_client_info(request)
        if request.payload.data.get("token_endpoint_auth_method") == "none":
            info.pop("client_secret", None)
            info.pop("client_secret_expires_at", None)
        return info

    def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: Any) -> Client:
        client = Client(
            client_id=client_info["client_id"],
            client_secret=client_info.get("client_secret"),
            redirect_uris=[str(uri) for uri in client_metadata["redirect_uris"]],
            token_endpoint_auth_method=client_metadata["token_endpoint_auth_method"],
            grant_types=list(client_metadata["grant_types"]),
            response_types=list(client_metadata["response_types"]),
            scope=client_metadata.get("scope", ""),
            client_name=str(client_metadata.get("client_name", "")),
        )
        _server(self).store.clients[client.client_id] = client
        return client


class _Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662 for the gateway only: any other client learns nothing (`active: false`)."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return _server(self).store.token(token_string)

    def check_permission(self, token: IssuedToken, client: Client, request: Any) -> bool:
        return bool(client.client_id == _server(self).introspection_client_id)

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        return {
            "active": True,
            "sub": token.user,
            "client_id": token.client_id,
            "username": token.user,
            "scope": token.scope,
            "aud": token.resource,
            "iss": _server(self).issuer,
            "exp": token.expires_at,
            "iat": token.issued_at,
            "token_type": "Bearer",
        }
