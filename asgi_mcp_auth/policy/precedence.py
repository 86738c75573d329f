"""`PrecedencePolicy`: the one place that decides which credential a request carries.

The middleware and every fallback call the same instance (seed 000: a fallback that preferred
the cookie while the middleware used the header gave one request two identities). The order
is fixed: the header whenever it is present, valid or not; the cookie only when there is no
header and the `BrowserPolicy` says the request is a browser request. There is no cookie-first
mode, and an invalid header never falls back to the cookie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from starlette.datastructures import Headers
from starlette.types import Scope

from ..core.errors import AuthenticationError, CrossSiteRequest, InvalidRequest, UnsupportedScheme
from ..core.principal import TokenSource
from .browser import SAFE_METHODS, BrowserPolicy, BrowserVerdict

__all__ = ["BEARER_PREFIX", "Credential", "PrecedencePolicy", "canonical_header", "token_of"]

# RFC 6750 §2.1 b64token; JWTs use a subset of it.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
BEARER_PREFIX = b"Bearer "


def canonical_header(token: str) -> bytes:
    """The usual header value carrying `token` (`Bearer <token>`): the verified-token cache's
    key for header credentials, so a request sending it is found without parsing. `token` is a
    checked token68 string, hence ASCII."""
    return BEARER_PREFIX + token.encode("ascii")


def token_of(credential: bytes | str | None) -> str | None:
    """The token of a credential as the verified-token cache keeps it: a `canonical_header`
    value for a header credential, the token itself for a cookie."""
    if isinstance(credential, bytes):
        return credential[len(BEARER_PREFIX) :].decode("ascii")
    return credential


@dataclass(frozen=True, slots=True)
class Credential:
    """A bearer token and where it was found. `repr` never shows the token."""

    token: str
    source: TokenSource

    def __repr__(self) -> str:
        return f"Credential(source={self.source.value!r}, token=<{len(self.token)} chars>)"


class PrecedencePolicy:
    """Selects the credential of a request. Build once; every method only reads."""

    def __init__(
        self,
        *,
        browser: BrowserPolicy,
        header_name: str = "Authorization",
        cookie_name: str = "jwt_token",
        mode: Literal["header-first", "header-only"] = "header-first",
        max_token_bytes: int = 8192,
    ) -> None:
        self.browser = browser
        self.header_name = header_name.lower()
        self._header_key = self.header_name.encode("latin-1")
        self.cookie_name = cookie_name
        self.mode = mode
        self.max_token_bytes = max_token_bytes

    def select(self, scope: Scope, headers: Headers | None = None) -> Credential | None:
        """The request's credential, None when it has none that counts.

        Raises `InvalidRequest` for ambiguous or malformed credentials, `CrossSiteRequest` for a
        cookie on an unsafe method from a foreign origin, `AuthenticationError` for an oversize
        token (refused before any decoding).
        """
        raw = self.header_value(scope)
        if raw is not None:
            return Credential(self.header_token(raw), TokenSource.HEADER)
        token = self.cookie_token(scope, headers)
        return Credential(token, TokenSource.COOKIE) if token is not None else None

    def header_value(self, scope: Scope) -> bytes | None:
        """The raw value of the credential header, None when absent; `InvalidRequest` when the
        request has two. When this is not None the header is the request's credential, valid or
        not: the cookie is never consulted. The first half of `select`, and the per-request fast
        path: a value the caller has already seen accepted needs no `header_token` again."""
        # ASGI header names are lower-case bytes: scanning them directly is the comparison
        # `Headers.getlist` makes, without building a `Headers` for requests with the header.
        raw = scope["headers"]
        if not isinstance(raw, list):  # any iterable is allowed: read it once, as Headers does
            raw = scope["headers"] = list(raw)
        key = self._header_key
        found: bytes | None = None
        for name, value in raw:
            if name == key:
                if found is not None:
                    raise InvalidRequest(f"More than one {self.header_name} header")
                found = value
        return found

    def header_token(self, value: bytes) -> str:
        """The bearer token of a raw header value; `UnsupportedScheme`, `InvalidRequest` or
        `AuthenticationError` (too large) when it holds none that can be verified. A pure
        function of `value`: `canonical_header(header_token(v))` is `v` for the usual form."""
        parts = value.decode("latin-1").split()
        # No credential for this resource (RFC 6750 §3.1: a plain challenge, so an MCP client
        # starts OAuth discovery): an empty header, another scheme, or `Bearer` with no token.
        if not parts or parts[0].lower() != "bearer":
            raise UnsupportedScheme()
        if len(parts) == 1:
            raise UnsupportedScheme("Bearer token missing")
        if len(parts) != 2:
            raise InvalidRequest("Expected exactly one bearer token")
        return self._checked(parts[1])

    def cookie_token(self, scope: Scope, headers: Headers | None = None) -> str | None:
        """The cookie credential of a request without the credential header: None when there is
        none, the mode is `header-only`, or the request is not a browser request; the second
        half of `select`, with its `InvalidRequest` and `CrossSiteRequest` refusals."""
        if self.mode == "header-only":
            return None
        headers = headers if headers is not None else Headers(scope=scope)
        token = self._cookie_token(headers)
        if token is None:
            return None
        verdict = self.browser.classify(scope, headers)
        if verdict is BrowserVerdict.BROWSER:
            return self._checked(token)
        if verdict is BrowserVerdict.CROSS_SITE and scope.get("method", "GET") not in SAFE_METHODS:
            raise CrossSiteRequest()
        return None

    def _cookie_token(self, headers: Headers) -> str | None:
        # Parsed by hand because a dict-based parser keeps only the last of two equal names,
        # and two cookies of the token's name are exactly what cookie tossing produces.
        found: list[str] = []
        for header in headers.getlist("cookie"):
            for chunk in header.split(";"):
                name, sep, value = chunk.partition("=")
                if sep and name.strip() == self.cookie_name:
                    found.append(value.strip())
        if not found:
            return None
        if len(found) > 1:
            raise InvalidRequest(f"More than one {self.cookie_name} cookie")
        token = found[0]
        if len(token) >= 2 and token[0] == token[-1] == '"':
            token = token[1:-1]
        return token or None  # an emptied cookie (after logout) is no credential

    def _checked(self, token: str) -> str:
        if len(token) > self.max_token_bytes:
            raise AuthenticationError("Token too large")
        if not _TOKEN68.fullmatch(token):
            raise InvalidRequest("Malformed bearer token")
        return token
