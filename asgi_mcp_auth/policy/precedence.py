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

__all__ = ["Credential", "PrecedencePolicy"]

# RFC 6750 §2.1 b64token; JWTs use a subset of it.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_HEADER_MEMO_SIZE = 1024
_HEADER_MEMO_MAX_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Credential:
    """A bearer token and where it was found. `repr` never shows the token."""

    token: str
    source: TokenSource

    def __repr__(self) -> str:
        return f"Credential(source={self.source.value!r}, token=<{len(self.token)} chars>)"


class PrecedencePolicy:
    """Selects the credential of a request. Build once; `select` only reads (apart from a
    bounded memo of parsed header values)."""

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
        self._parsed_headers: dict[bytes, str] = {}
        self.cookie_name = cookie_name
        self.mode = mode
        self.max_token_bytes = max_token_bytes

    def select(self, scope: Scope, headers: Headers | None = None) -> Credential | None:
        """The request's credential, None when it has none that counts.

        Raises `InvalidRequest` for ambiguous or malformed credentials, `CrossSiteRequest` for a
        cookie on an unsafe method from a foreign origin, `AuthenticationError` for an oversize
        token (refused before any decoding).
        """
        located = self.locate(scope, headers)
        return Credential(located[1], located[0]) if located is not None else None

    def locate(self, scope: Scope, headers: Headers | None = None) -> tuple[TokenSource, str] | None:
        """`select()` as a plain `(source, token)` pair (the verified-token cache's key), with
        the same decisions and errors; the per-request fast path, which allocates no `Credential`.
        """
        # ASGI header names are lower-case bytes: scanning them directly is the comparison
        # `Headers.getlist` makes, without building a `Headers` for requests with the header.
        raw = scope["headers"]
        if not isinstance(raw, list):  # any iterable is allowed: read it once, as Headers does
            raw = scope["headers"] = list(raw)
        found = [value for name, value in raw if name == self._header_key]
        if len(found) > 1:
            raise InvalidRequest(f"More than one {self.header_name} header")
        if found:
            return TokenSource.HEADER, self._header_token(found[0])
        if self.mode == "header-only":
            return None
        headers = headers if headers is not None else Headers(scope=scope)
        token = self._cookie_token(headers)
        if token is None:
            return None
        verdict = self.browser.classify(scope, headers)
        if verdict is BrowserVerdict.BROWSER:
            return TokenSource.COOKIE, self._checked(token)
        if verdict is BrowserVerdict.CROSS_SITE and scope.get("method", "GET") not in SAFE_METHODS:
            raise CrossSiteRequest()
        return None

    def _header_token(self, value: bytes) -> str:
        """`_bearer_token` of a raw header value, remembered: a client sends the same header
        again and again, and parsing and checking it is a pure function of its bytes. Only
        accepted values are remembered; the memo is bounded in entries and in value length."""
        token = self._parsed_headers.get(value)
        if token is None:
            token = self._bearer_token(value.decode("latin-1"))
            if len(value) <= _HEADER_MEMO_MAX_BYTES:
                if len(self._parsed_headers) >= _HEADER_MEMO_SIZE:
                    self._parsed_headers.clear()
                self._parsed_headers[value] = token
        return token

    def _bearer_token(self, value: str) -> str:
        parts = value.split()
        # No credential for this resource (RFC 6750 §3.1: a plain challenge, so an MCP client
        # starts OAuth discovery): an empty header, another scheme, or `Bearer` with no token.
        if not parts or parts[0].lower() != "bearer":
            raise UnsupportedScheme()
        if len(parts) == 1:
            raise UnsupportedScheme("Bearer token missing")
        if len(parts) != 2:
            raise InvalidRequest("Expected exactly one bearer token")
        return self._checked(parts[1])

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
