"""`BrowserPolicy`: may this request use the session cookie?

Trust assumptions: browsers send truthful `Origin`, `Referer` and `Sec-Fetch-*` headers (pages
cannot forge them); non-browser clients can send anything, which is why the cookie alone never
authenticates them. The allowlist names the pages whose same-origin requests may call APIs with
the cookie. A page that does so must send a `Referrer-Policy` that keeps the path on same-origin
requests (`same-origin`): `strict-origin` strips the path and the allowlist cannot match.

The policy never guesses from `Accept` or from a substring of the `Referer` (seed 003): it
parses the `Referer`, compares origins component by component, and matches paths by segment.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

from .errors import ConfigurationError

__all__ = ["BrowserPolicy", "BrowserVerdict", "Origin", "parse_origin"]

Origin = tuple[str, str, int]
"""(scheme, lower-case host, port with defaults filled in)."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_FRAME_DESTINATIONS = frozenset({"iframe", "frame", "object", "embed"})
# Percent-encoded slash, backslash and dot: a path that hides them cannot be matched by segment.
_ENCODED_TRICKS = ("%2f", "%5c", "%2e", "\\")


class BrowserVerdict(enum.Enum):
    """How a request that carries a cookie credential is to be treated."""

    BROWSER = "browser"  # the cookie may authenticate it
    NOT_BROWSER = "not-browser"  # the cookie is ignored
    CROSS_SITE = "cross-site"  # a foreign origin: unsafe methods are refused (CSRF)


def parse_origin(value: str) -> Origin | None:
    """The origin of an absolute http(s) URL, or None when it does not parse as one."""
    try:
        parts = urlsplit(value.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def _normalise_path(path: str) -> str:
    return path.rstrip("/") or "/"


def _is_clean_path(path: str) -> bool:
    lowered = path.lower()
    if any(trick in lowered for trick in _ENCODED_TRICKS):
        return False
    return all(segment not in (".", "..") for segment in path.split("/"))


class BrowserPolicy:
    """Classifies requests that carry a cookie credential. Build once; `classify` only reads."""

    def __init__(
        self,
        *,
        origin_paths: Iterable[str] = ("/admin", "/oauth/callback"),
        public_origin: str | None = None,
        trusted_origins: Iterable[str] = (),
    ) -> None:
        self.origin_paths = tuple(_normalise_path(path) for path in origin_paths)
        self.public_origin = self._origin_setting("PUBLIC_ORIGIN", public_origin) if public_origin else None
        self.trusted_origins = frozenset(self._origin_setting("TRUSTED_ORIGINS", origin) for origin in trusted_origins)

    @staticmethod
    def _origin_setting(name: str, value: str) -> Origin:
        origin = parse_origin(value)
        if origin is None or urlsplit(value).path not in ("", "/"):
            raise ConfigurationError(f"MCP_AUTH_{name} must be an origin such as https://gw.example.com: {value!r}")
        return origin

    def is_allowlisted_path(self, path: str) -> bool:
        """True when `path` is an allowlisted page or below one, matched by whole segments."""
        if not _is_clean_path(path):
            return False
        return any(path == allowed or path.startswith(allowed + "/") for allowed in self.origin_paths)

    def request_origin(self, scope: Scope, headers: Headers) -> Origin | None:
        """The origin browsers see: `PUBLIC_ORIGIN`, else the request's own scheme and Host."""
        if self.public_origin is not None:
            return self.public_origin
        host = headers.get("host")
        if not host:
            return None
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return parse_origin(f"{scheme}://{host}")

    def is_browser_request(self, scope: Scope, headers: Headers | None = None) -> bool:
        """True when a cookie on this request may authenticate it."""
        return self.classify(scope, headers) is BrowserVerdict.BROWSER

    def classify(self, scope: Scope, headers: Headers | None = None) -> BrowserVerdict:
        headers = headers if headers is not None else Headers(scope=scope)
        method = scope.get("method", "GET")
        fetch_site = headers.get("sec-fetch-site")
        fetch_mode = headers.get("sec-fetch-mode")
        fetch_dest = headers.get("sec-fetch-dest")

        # A top-level navigation to an allowlisted page: SameSite=Lax already sends the cookie,
        # and an identity provider's cross-site redirect to /oauth/callback arrives this way.
        if method in ("GET", "HEAD") and scope.get("type") == "http" and self.is_allowlisted_path(scope["path"]):
            if fetch_mode is None and fetch_dest is None and fetch_site is None:
                if "text/html" in headers.get("accept", ""):
                    return BrowserVerdict.BROWSER
            elif fetch_mode == "navigate" and fetch_dest == "document":
                return BrowserVerdict.BROWSER
            elif fetch_dest in _FRAME_DESTINATIONS:
                return BrowserVerdict.CROSS_SITE

        origin_header = headers.get("origin")
        referer = headers.get("referer")
        if fetch_site is None and origin_header is None and referer is None:
            return BrowserVerdict.NOT_BROWSER  # curl, SDK clients: no browser signal at all

        allowed = {self.request_origin(scope, headers), *self.trusted_origins} - {None}
        if fetch_site is not None and fetch_site != "same-origin":
            return BrowserVerdict.CROSS_SITE
        if origin_header is not None and parse_origin(origin_header) not in allowed:
            return BrowserVerdict.CROSS_SITE  # Origin: null lands here too
        if referer is None:
            return BrowserVerdict.NOT_BROWSER
        referer_origin = parse_origin(referer)
        if referer_origin not in allowed:
            return BrowserVerdict.CROSS_SITE
        if self.is_allowlisted_path(_referer_path(referer)):
            return BrowserVerdict.BROWSER
        return BrowserVerdict.NOT_BROWSER


def _referer_path(referer: str) -> str:
    parts: SplitResult = urlsplit(referer.strip())
    return parts.path or "/"
