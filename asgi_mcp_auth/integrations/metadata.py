"""OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint.

MCP clients that get a 401 read `resource_metadata` from the `WWW-Authenticate` challenge (set
`MCP_AUTH_RESOURCE_METADATA_URL`), or else try the well-known URLs, to learn which authorization
server issues tokens for this resource::

    routes = protected_resource_metadata_routes(
        settings, authorization_servers=["https://idp.example.com"], scopes_supported=["tools.execute"]
    )
    app = Starlette(routes=[*routes, Mount("/mcp", mcp_app)])

The document is public: every path served must be in `MCP_AUTH_PUBLIC_PATHS`, or the builders
raise `ConfigurationError` at start-up (the middleware would otherwise answer 401 to the very
request that asks how to authenticate). Nothing here needs the `mcp` package.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..core.errors import ConfigurationError
from ..policy.rbac import parse_scope_permissions
from ..settings import AuthSettings

__all__ = [
    "WELL_KNOWN_PATH",
    "ProtectedResourceMetadata",
    "ProtectedResourceMetadataEndpoint",
    "protected_resource_metadata_route",
    "protected_resource_metadata_routes",
    "well_known_path",
    "well_known_url",
]

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"
_CACHE_CONTROL = b"public, max-age=3600"
_ALLOWED_METHODS = b"GET, HEAD, OPTIONS"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_url(value: str, what: str) -> str:
    """An absolute https URL without fragment (RFC 9728 §1.2, RFC 8414 §2); http only for loopback."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.scheme not in ("https", "http") or parts.fragment or "#" in value:
        raise ConfigurationError(f"{what} must be an absolute https URL without a fragment: {value!r}")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(f"{what} must use https (http is allowed for loopback hosts only): {value!r}")
    return value


def well_known_path(resource: str) -> str:
    """RFC 9728 §3.1: the metadata path for `resource`, the well-known prefix followed by the
    resource's path (`https://gw.example.com/mcp` -> `/.well-known/oauth-protected-resource/mcp`)."""
    path = urlsplit(_checked_url(resource, "resource")).path.rstrip("/")
    return WELL_KNOWN_PATH + path


def well_known_url(resource: str) -> str:
    """RFC 9728 §3.1: the metadata URL for `resource`, a value for `MCP_AUTH_RESOURCE_METADATA_URL`."""
    parts = urlsplit(_checked_url(resource, "resource"))
    return urlunsplit((parts.scheme, parts.netloc, well_known_path(resource), parts.query, ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectedResourceMetadata:
    """The metadata document (RFC 9728 §2). Validated when built; `to_json()` is the response body."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] | None = None
    bearer_methods_supported: tuple[str, ...] = ("header",)
    resource_name: str | None = None

    def __post_init__(self) -> None:
        _checked_url(self.resource, "resource")
        if isinstance(self.authorization_servers, str) or not self.authorization_servers:
            raise ConfigurationError("authorization_servers must list at least one issuer URL")
        for server in self.authorization_servers:
            _checked_url(server, "authorization server")
        for name in ("authorization_servers", "scopes_supported", "bearer_methods_supported"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, str):
                    raise ConfigurationError(f"{name} must be a sequence of strings, not one string")
                object.__setattr__(self, name, tuple(value))
        if not set(self.bearer_methods_supported) <= {"header", "body", "query"}:
            raise ConfigurationError("bearer_methods_supported may contain only header, body and query")

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": list(self.authorization_servers),
        }
        if self.scopes_supported is not None:
            document["scopes_supported"] = list(self.scopes_supported)
        document["bearer_methods_supported"] = list(self.bearer_methods_supported)
        if self.resource_name is not None:
            document["resource_name"] = self.resource_name
        return document

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


class ProtectedResourceMetadataEndpoint:
    """A pure ASGI app serving one metadata document: GET and HEAD give it (cacheable, readable
    cross-origin: it is public and browser-based MCP clients fetch it), OPTIONS answers a CORS
    preflight, any other method gets 405."""

    def __init__(self, metadata: ProtectedResourceMetadata) -> None:
        self.metadata = metadata
        self._body = metadata.to_json()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("ProtectedResourceMetadataEndpoint serves http requests only")
        method = scope["method"]
        headers = [(b"access-control-allow-origin", b"*")]
        if method in ("GET", "HEAD"):
            status, body = 200, self._body
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", _CACHE_CONTROL),
            ]
        elif method == "OPTIONS":
            status, body = 204, b""
            headers += [
                (b"access-control-allow-methods", _ALLOWED_METHODS),
                (b"access-control-allow-headers", b"*"),
                (b"access-control-max-age", b"86400"),
            ]
        else:
            status, body = 405, b""
            headers += [(b"allow", _ALLOWED_METHODS), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _metadata(
    settings: AuthSettings,
    resource: str | None,
    authorization_servers: Sequence[str],
    scopes_supported: Sequence[str] | None,
    resource_name: str | None,
) -> ProtectedResourceMetadata:
    resource = resource if resource is not None else settings.jwt_audience
    if resource is None:
        raise ConfigurationError("resource is required when MCP_AUTH_JWT_AUDIENCE is not set")
    return ProtectedResourceMetadata(
        resource=resource,
        authorization_servers=tuple(authorization_servers),
        scopes_supported=tuple(scopes_supported) if scopes_supported is not None else _mapped_scopes(settings),
        resource_name=resource_name,
    )


def _mapped_scopes(settings: AuthSettings) -> tuple[str, ...] | None:
    # The OAuth scopes the authorization server issues (the keys of SCOPE_PERMISSIONS): what a
    # client may ask for. Permission names are this package's vocabulary, not the server's.
    scopes = tuple(parse_scope_permissions(settings.scope_permissions))
    return scopes or None


def _require_public(settings: AuthSettings, paths: Iterable[str]) -> None:
    public = {path.rstrip("/") or "/" for path in settings.public_paths}
    missing = [path for path in paths if path not in public]
    if missing:
        raise ConfigurationError(
            f"Protected resource metadata must be public: add {', '.join(missing)} to MCP_AUTH_PUBLIC_PATHS"
        )


def protected_resource_metadata_route(
    settings: AuthSettings,
    *,
    resource: str | None = None,
    authorization_servers: Sequence[str],
    scopes_supported: Sequence[str] | None = None,
    resource_name: str | None = None,
    path: str = WELL_KNOWN_PATH,
) -> Route:
    """A Starlette `Route` serving the metadata at `path` (default `/.well-known/oauth-protected-resource`).

    `resource` defaults to `MCP_AUTH_JWT_AUDIENCE`, the RFC 8707 resource the tokens are issued
    for. Raises `ConfigurationError` for an invalid document or when `path` is not public.
    """
    metadata = _metadata(settings, resource, authorization_servers, scopes_supported, resource_name)
    _require_public(settings, [path])
    return Route(path, ProtectedResourceMetadataEndpoint(metadata), name="oauth-protected-resource")


def protected_resource_metadata_routes(
    settings: AuthSettings,
    *,
    resource: str | None = None,
    authorization_servers: Sequence[str],
    scopes_supported: Sequence[str] | None = None,
    resource_name: str | None = None,
) -> list[Route]:
    """Routes for both URLs MCP clients try: the RFC 9728 §3.1 path of the resource
    (`/.well-known/oauth-protected-resource/mcp` for `https://gw.example.com/mcp`), then the
    root `/.well-known/oauth-protected-resource`; one route when the resource has no path.

    Both paths must be in `MCP_AUTH_PUBLIC_PATHS`; point `MCP_AUTH_RESOURCE_METADATA_URL` at
    `well_known_url(resource)`.
    """
    metadata = _metadata(settings, resource, authorization_servers, scopes_supported, resource_name)
    endpoint = ProtectedResourceMetadataEndpoint(metadata)
    paths = list(dict.fromkeys([well_known_path(metadata.resource), WELL_KNOWN_PATH]))
    _require_public(settings, paths)
    names = ["oauth-protected-resource", "oauth-protected-resource-root"]
    return [Route(path, endpoint, name=name) for path, name in zip(paths, names, strict=False)]
