"""How the example composes its settings: its public paths, the RFC 9728 metadata it serves, whether
it runs its own development authorization server (and with which token format), the hosts its MCP
server answers, and when its cookie is Secure."""

from __future__ import annotations

import os
from typing import Any, cast
from urllib.parse import urlsplit

from starlette.requests import Request

from asgi_mcp_auth import AuthSettings, ConfigurationError
from asgi_mcp_auth.integrations.metadata import WELL_KNOWN_PATH, well_known_path, well_known_url
from asgi_mcp_auth.policy.browser import parse_origin

from .authorization_server import TokenFormat
from .mcp_server import DEFAULT_ALLOWED_HOSTS
from .oauth_routes import OAUTH_PATHS

__all__ = [
    "ALLOWED_HOSTS_ENV",
    "AUTHORIZATION_SERVERS_ENV",
    "EXAMPLE_PUBLIC_PATHS",
    "LOGIN_PATH",
    "LOGOUT_PATH",
    "TOKEN_FORMAT_ENV",
    "allowed_hosts",
    "authorization_servers",
    "cookie_is_secure",
    "runs_authorization_server",
    "token_format_from_env",
    "example_settings",
    "metadata_resource",
]

LOGIN_PATH = "/admin/login"
LOGOUT_PATH = "/admin/logout"
EXAMPLE_PUBLIC_PATHS = ("/health", LOGIN_PATH, LOGOUT_PATH, "/static/app.js", "/static/style.css")
AUTHORIZATION_SERVERS_ENV = "EXAMPLE_AUTHORIZATION_SERVERS"
ALLOWED_HOSTS_ENV = "EXAMPLE_ALLOWED_HOSTS"
TOKEN_FORMAT_ENV = "EXAMPLE_TOKEN_FORMAT"


def token_format_from_env() -> TokenFormat:
    """`EXAMPLE_TOKEN_FORMAT`: `jwt` (the default) or `opaque`."""
    value = os.environ.get(TOKEN_FORMAT_ENV, "").strip().lower() or "jwt"
    if value not in ("jwt", "opaque"):
        raise ConfigurationError(f"{TOKEN_FORMAT_ENV} must be 'jwt' or 'opaque'")
    return cast(TokenFormat, value)


def runs_authorization_server(settings: AuthSettings) -> bool:
    """The example is its own authorization server when it signs its own tokens (a dev HMAC
    key), its audience is a URL, and no other server is named in EXAMPLE_AUTHORIZATION_SERVERS."""
    configured = os.environ.get(AUTHORIZATION_SERVERS_ENV, "").strip()
    return settings.jwt_secret is not None and metadata_resource(settings) is not None and not configured


def metadata_resource(settings: AuthSettings) -> str | None:
    """The audience, when it is a URL that RFC 9728 metadata can describe."""
    if settings.jwt_audience is None:
        return None
    try:
        well_known_path(settings.jwt_audience)
    except ConfigurationError:
        return None
    return settings.jwt_audience


def example_settings(settings: AuthSettings | None = None) -> AuthSettings:
    """`settings` (default: from `MCP_AUTH_*`) plus the example's public paths and metadata URL."""
    settings = settings if settings is not None else AuthSettings()
    resource = metadata_resource(settings)
    metadata_paths = (well_known_path(resource), WELL_KNOWN_PATH) if resource else ()
    oauth_paths = OAUTH_PATHS if runs_authorization_server(settings) else ()
    paths = [*settings.public_paths, *EXAMPLE_PUBLIC_PATHS, *metadata_paths, *oauth_paths]
    update: dict[str, Any] = {"public_paths": list(dict.fromkeys(paths))}
    if resource is not None and settings.resource_metadata_url is None:
        update["resource_metadata_url"] = well_known_url(resource)
    return settings.model_copy(update=update)


def allowed_hosts(settings: AuthSettings) -> list[str]:
    """`Host` values the MCP SDK's DNS-rebinding protection lets in: loopback, plus the hosts of
    PUBLIC_ORIGIN, TRUSTED_ORIGINS, the audience and EXAMPLE_ALLOWED_HOSTS."""
    hosts = list(DEFAULT_ALLOWED_HOSTS)
    urls = [settings.public_origin, *settings.trusted_origins, settings.jwt_audience]
    names = [urlsplit(url).hostname for url in urls if url]
    names += [name.strip() for name in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if name.strip()]
    for name in filter(None, names):
        hosts += [name, f"{name}:*"]
    return list(dict.fromkeys(hosts))


def authorization_servers(settings: AuthSettings, resource: str) -> list[str]:
    """EXAMPLE_AUTHORIZATION_SERVERS, else JWT_ISSUER, else this gateway's origin (from the
    configured audience, never from a request): the dev authorization server's issuer."""
    configured = [url.strip() for url in os.environ.get(AUTHORIZATION_SERVERS_ENV, "").split(",") if url.strip()]
    if configured:
        return configured
    if settings.jwt_issuer:
        return [settings.jwt_issuer]
    # The dev login makes this gateway its own token issuer.
    parts = urlsplit(resource)
    return [f"{parts.scheme}://{parts.netloc}"]


def cookie_is_secure(settings: AuthSettings, request: Request) -> bool:
    # `__Secure-` and `__Host-` cookies are dropped by browsers unless marked Secure.
    if settings.cookie_name.startswith(("__Secure-", "__Host-")):
        return True
    public = parse_origin(settings.public_origin) if settings.public_origin else None
    scheme = public[0] if public is not None else request.url.scheme
    return scheme == "https"
