"""`BrowserPolicy`: may this request use the session cookie?

Trust assumptions: browsers send truthful `Origin`, `Referer` and `Sec-Fetch-*` headers (a page
cannot forge them); non-browser clients can send anything, which is why the cookie alone never
authenticates them and why a header credential is never subject to these rules. The allowlist
names the pages whose same-origin requests may call APIs with the cookie. Such a page must send a
`Referrer-Policy` that keeps the path on same-origin requests (`same-origin`): `strict-origin`
strips the path and the allowlist cannot match.

The policy never guesses from `Accept` or from a substring of the `Referer` (seed 003): it parses
the `Referer`, compares origins component by component (scheme, host, port; never the raw
netloc, which may carry userinfo), and matches paths by whole segments.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

from ..core.errors import ConfigurationError
from .paths import route_path, strip_root_path

__all__ = ["SAFE_METHODS", "BrowserPolicy", "BrowserVerdict", "Origin", "parse_origin"]

Origin = tuple[str, str, int]
"""(scheme, lower-case host, port with the scheme's default filled in)."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NAVIGATION_METHODS = frozenset({"GET", "HEAD"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A page rendered in a frame is never a browser request: framing is how clickjacking starts.
_FRAME_DESTINATIONS = frozenset({"iframe", "frame", "object", "embed", "fencedframe"})
# Encoded slash, backslash, dot and percent (double encoding): a path hiding them could mean
# something else to a router that decodes it again, so it never matches the allowlist.
_ENCODED_TRICKS = ("%2f", "%5c", "%2e", "%25", "\\")
# Characters a browser never leaves unescaped in a URL; urlsplit would silently drop some of them.
_UNSAFE_URL_CHARS = frozenset(chr(code) for code in (*range(0x21), 0x7F))
_HOST_FORBIDDEN = frozenset("/\\@?#") | _UNSAFE_URL_CHARS


class BrowserVerdict(enum.Enum):
    """How a request that carries a cookie credential is to be treated."""

    BROWSER = "browser"  # the cookie may authenticate it
    NOT_BROWSER = "not-browser"  # the cookie is ignored
    CROSS_SITE = "cross-site"  # a foreign origin: the cookie is ignored, unsafe methods refused (CSRF)


def parse_origin(value: str) -> Origin | None:
    """The origin of an absolute http(s) URL, or None when it is not one (`null` included)."""
    if any(char in _UNSAFE_URL_CHARS for char in value):
        return None
    try:
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:  # a bad port or a malformed IPv6 literal
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def _normalise_path(path: str) -> str:
    return path.rstrip("/") or "/"


def _is_clean_path(path: str) -> bool:
    lowered = path.lower()
    if any(trick in lowered for trick in _ENCODED_TRICKS):
        return False
    if any(char in _UNSAFE_URL_CHARS for char in path):
        return False
    return all(segment not in (".", "..") for segment in path.split("/"))


def _accepts_html(accept: str) -> bool:
    media_types = (item.split(";", 1)[0].strip().lower() for item in accept.split(","))
    return "text/html" in media_types


class BrowserPolicy:
    """Classifies requests that carry a cookie credential. Build once; `classify` only reads.

    A request is a browser request (the cookie may authenticate it) when it is either
      1. from an allowlisted same-origin page: its `Referer` has the public (or a trusted) origin
         and an allowlisted path, `Origin` (when sent) is the public or a trusted origin, and
         `Sec-Fetch-Site` (when sent) is `same-origin`; or
      2. a top-level navigation to an allowlisted path: GET or HEAD with `Sec-Fetch-Mode:
         navigate` and `Sec-Fetch-Dest: document` (without Fetch Metadata: `Accept: text/html`),
         whatever `Sec-Fetch-Site` says, because SameSite=Lax sends the cookie there anyway and
         an identity provider's redirect to `/oauth/callback` arrives this way.
    A request showing a foreign origin (`Sec-Fetch-Site` other than `same-origin`, another
    `Origin`, `Origin: null`, a cross-origin or unparsable `Referer`) is `CROSS_SITE`; one with no
    browser signal at all (curl, SDKs) is `NOT_BROWSER`. Frames never count.
    """

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
        parts = urlsplit(value)
        if origin is None or parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
            raise ConfigurationError(f"MCP_AUTH_{name} must be an origin such as https://gw.example.com: {value!r}")
        return origin

    def __repr__(self) -> str:
        return (
            f"BrowserPolicy(origin_paths={self.origin_paths!r}, public_origin={self.public_origin!r}, "
            f"trusted_origins={sorted(self.trusted_origins)!r})"
        )

    def is_allowlisted_path(self, path: str) -> bool:
        """True when `path` is an allowlisted page or below one, matched by whole segments.

        `/admin` allows `/admin` and `/admin/gateways`, never `/administrator` or `/admin-x`; a
        path with dot segments or encoded slashes never matches.
        """
        if not _is_clean_path(path):
            return False
        return any(path == allowed or path.startswith(allowed + "/") for allowed in self.origin_paths)

    def request_origin(self, scope: Scope, headers: Headers) -> Origin | None:
        """The origin browsers see: `PUBLIC_ORIGIN`, else the request's own scheme and `Host`."""
        if self.public_origin is not None:
            return self.public_origin
        host = headers.get("host")
        if not host or any(char in _HOST_FORBIDDEN for char in host):
            return None
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return parse_origin(f"{scheme}://{host}")

    def is_browser_request(self, scope: Scope, headers: Headers | None = None) -> bool:
        """True when a cookie on this request may authenticate it."""
        return self.classify(scope, headers) is BrowserVerdict.BROWSER

    def classify(self, scope: Scope, headers: Headers | None = None) -> BrowserVerdict:
        """The verdict for a request carrying a cookie credential (see the class docstring)."""
        headers = headers if headers is not None else Headers(scope=scope)
        if self._is_navigation_to_allowlisted_page(scope, headers):
            return BrowserVerdict.BROWSER

        fetch_site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        referer = headers.get("referer")
        if fetch_site is None and origin is None and referer is None:
            return BrowserVerdict.NOT_BROWSER  # curl, SDK clients: no browser signal at all

        allowed = {self.request_origin(scope, headers), *self.trusted_origins} - {None}
        if fetch_site is not None and fetch_site != "same-origin":
            return BrowserVerdict.CROSS_SITE
        if origin is not None and parse_origin(origin) not in allowed:
            return BrowserVerdict.CROSS_SITE  # `Origin: null` (sandboxed pages, redirects) lands here
        if referer is not None and parse_origin(referer) not in allowed:
            return BrowserVerdict.CROSS_SITE
        if headers.get("sec-fetch-dest") in _FRAME_DESTINATIONS:
            return BrowserVerdict.NOT_BROWSER
        if referer is not None and self.is_allowlisted_path(urlsplit(referer).path):
            return BrowserVerdict.BROWSER
        return BrowserVerdict.NOT_BROWSER  # e.g. a same-origin page outside the allowlist

    def _is_navigation_to_allowlisted_page(self, scope: Scope, headers: Headers) -> bool:
        if scope.get("type") != "http" or scope.get("method") not in _NAVIGATION_METHODS:
            return False
        if not self._is_allowlisted_target(scope):
            return False
        mode = headers.get("sec-fetch-mode")
        dest = headers.get("sec-fetch-dest")
        if mode is None and dest is None and headers.get("sec-fetch-site") is None:
            # A browser without Fetch Metadata: only here does `Accept` mean anything.
            return _accepts_html(headers.get("accept", ""))
        return mode == "navigate" and dest == "document"

    def _is_allowlisted_target(self, scope: Scope) -> bool:
        # The route path (decoded, without `root_path`) is what the router sees; the raw one
        # shows what was encoded.
        if not self.is_allowlisted_path(route_path(scope)):
            return False
        raw_path = scope.get("raw_path")
        if raw_path is None:
            return True
        raw = raw_path.decode("latin-1").split("?", 1)[0]
        return self.is_allowlisted_path(strip_root_path(raw, scope.get("root_path") or ""))
