"""In-memory records of the example's development authorization server: registered clients,
authorization codes and (opaque mode) access tokens, as authlib's model mixins. Nothing is
stored on disk: a restart forgets every client and token, which is what a dev server wants."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list

__all__ = ["CODE_TTL_SECONDS", "AuthorizationCode", "Client", "IssuedToken", "Store"]

#: RFC 6749 §4.1.2 recommends at most 10 minutes; a login takes less than one.
CODE_TTL_SECONDS = 300
_SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(slots=True)
class Client(ClientMixin):  # type: ignore[misc]
    """A client registered through RFC 7591, or the resource server's own introspection client."""

    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    token_endpoint_auth_method: str = "none"
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code"])
    response_types: list[str] = field(default_factory=lambda: ["code"])
    scope: str = ""
    client_name: str = ""

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous default: with several registered URIs the request must name one.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        # The scope a client registered with does not bound what it may ask for later: MCP
        # clients register with the first challenge's scope and step up beyond it. The user's
        # roles decide what is granted (`DevAuthorizationServer.grantable_scope`).
        return str(list_to_scope(scope_to_list(scope))) if scope else ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact string match (OAuth 2.1)

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None:
            return False
        return secrets.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.token_endpoint_auth_method
        return method in _SECRET_AUTH_METHODS and self.client_secret is not None

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(slots=True)
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    resource: str
    code_challenge: str
    code_challenge_method: str
    expires_at: float = field(default_factory=lambda: time.time() + CODE_TTL_SECONDS)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(slots=True)
class IssuedToken(TokenMixin):  # type: ignore[misc]
    """An opaque access token, as the introspection endpoint knows it."""

    access_token: str
    client_id: str
    user: str
    scope: str
    resource: str
    issued_at: int
    expires_at: int
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_at - self.issued_at

    def is_expired(self) -> bool:
        return self.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self.revoked


class Store:
    """Every record of one authorization server instance."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.refresh_tokens: dict[str, IssuedToken] = {}
        #: Codes already exchanged, and the tokens each one bought (RFC 6749 §4.1.2: a code used
        #: twice is refused, and what it was exchanged for is revoked).
        self.spent_codes: dict[str, list[str]] = {}

    def client(self, client_id: str | None) -> Client | None:
        return self.clients.get(client_id or "")

    def code(self, code: str, client: ClientMixin) -> AuthorizationCode | None:
        item = self.codes.get(code)
        if item is None or item.client_id != client.get_client_id() or item.expires_at <= time.time():
            return None
        return item

    def spend(self, code: AuthorizationCode, tokens: list[str]) -> None:
        self.codes.pop(code.code, None)
        self.spent_codes[code.code] = tokens

    def replayed(self, code: str) -> bool:
        """True when `code` was exchanged before; what it bought is revoked now (opaque access
        tokens and refresh tokens: a JWT cannot be called back)."""
        if code not in self.spent_codes:
            return False
        for value in self.spent_codes[code]:
            for records in (self.tokens, self.refresh_tokens):
                if value in records:
                    records[value].revoked = True
        return True

    def token(self, value: str) -> IssuedToken | None:
        return self.tokens.get(value)

    def refresh_token(self, value: str) -> IssuedToken | None:
        item = self.refresh_tokens.get(value)
        return item if item is not None and not item.is_expired() and not item.is_revoked() else None
