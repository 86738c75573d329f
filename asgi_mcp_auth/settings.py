"""`AuthSettings`: every option of the middleware, read from `MCP_AUTH_*` variables.

A bad or insecure configuration raises `ConfigurationError` when the settings are built,
naming the variable at fault; it never surfaces at the first request.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .core.algorithms import HMAC_ALGORITHMS, HMAC_KEY_BYTES, MIN_SECRET_BYTES, PUBLIC_KEY_ALGORITHMS
from .core.errors import ConfigurationError
from .policy.browser import BrowserPolicy
from .policy.issuer_list import IssuerConfig, parse_issuers
from .policy.mcp_methods import MethodPermissions
from .policy.rbac import RBACPolicy, parse_scope_permissions
from .policy.urls import is_trusted_url

__all__ = ["ENV_PREFIX", "AuthSettings", "IssuerConfig", "parse_issuers"]  # the last two re-exported

ENV_PREFIX = "MCP_AUTH_"

CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class AuthSettings(BaseSettings):
    """Configuration of `MCPAuthMiddleware`. Keyword arguments override the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    # Keys: exactly one of secret, public key or JWKS URL.
    jwt_secret: SecretStr | None = None
    jwt_public_key: SecretStr | None = None
    jwks_url: str | None = None
    jwt_algorithms: CommaList = Field(default_factory=lambda: ["HS256"])
    jwt_audience: str | None = None
    jwt_verify_audience: bool = True
    jwt_issuer: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=3600)
    max_token_bytes: int = Field(default=8192, ge=64, le=1_048_576)

    # Where credentials come from.
    header_name: str = "Authorization"
    cookie_name: str = "jwt_token"
    precedence: Literal["header-first", "header-only"] = "header-first"

    # Browser requests.
    browser_origin_paths: CommaList = Field(default_factory=lambda: ["/admin", "/oauth/callback"])
    public_origin: str | None = None
    trusted_origins: CommaList = Field(default_factory=list)

    # Paths.
    public_paths: CommaList = Field(default_factory=lambda: ["/health", "/.well-known/oauth-protected-resource"])
    mcp_paths: CommaList = Field(default_factory=lambda: ["/mcp"])
    mcp_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    mcp_method_permissions: str | None = None  # JSON object: method -> permission, laid over the defaults
    resource_metadata_url: str | None = None

    # Identity and permissions.
    roles_claim: str = "roles"
    teams_claim: str = "teams"
    team_roles_claim: str = "team_roles"
    rbac_policy: str | None = None

    # Verified-token cache and JWKS.
    token_cache_size: int = Field(default=10_000, ge=0)
    token_cache_ttl_seconds: float = Field(default=300.0, gt=0)
    jwks_cache_ttl_seconds: float = Field(default=300.0, gt=0)
    jwks_refresh_cooldown_seconds: float = Field(default=30.0, ge=1)
    jwks_timeout_seconds: float = Field(default=5.0, gt=0)
    jwks_max_bytes: int = Field(default=262_144, ge=1024)

    # OAuth resource server: opaque tokens (RFC 7662), several issuers, scopes that grant.
    introspection_url: str | None = None
    introspection_client_id: str | None = None
    introspection_client_secret: SecretStr | None = None
    introspection_auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    introspection_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    introspection_cache_ttl_seconds: float = Field(default=300.0, gt=0)
    introspection_negative_ttl_seconds: float = Field(default=30.0, gt=0)
    introspection_retry_after_seconds: int = Field(default=5, ge=1, le=3600)
    issuers: str | None = None  # JSON list of {issuer, jwks_url | public_key, audience, algorithms}
    scope_permissions: str | None = None  # JSON object: OAuth scope -> [permissions it grants]
    challenge_scopes: CommaList | None = None  # the 401's scope=; default: the read-only mapped scopes

    # Revocation shared by replicas (Redis; the `redis` extra). Unset: revocations stay in this process.
    revocation_redis_url: SecretStr | None = None  # redis://[:password@]host:port/db; may hold a password
    revocation_failure: Literal["closed", "open"] = "closed"  # when the shared state cannot be vouched for
    revocation_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    revocation_connect_timeout_seconds: float = Field(default=1.0, gt=0, le=60)
    revocation_command_timeout_seconds: float = Field(default=0.5, gt=0, le=60)
    revocation_key_prefix: str = Field(default="asgi-mcp-auth:revocation", min_length=1, max_length=200)

    def __init__(self, **values: Any) -> None:
        refuse_unknown_variables(os.environ, type(self))
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc)) from None

    _split = field_validator(
        "jwt_algorithms",
        "browser_origin_paths",
        "trusted_origins",
        "public_paths",
        "mcp_paths",
        "challenge_scopes",
        mode="before",
    )(_split_commas)

    @model_validator(mode="after")
    def _fail_closed(self) -> AuthSettings:
        keys = [self.jwt_secret, self.jwt_public_key, self.jwks_url]
        configured = sum(key is not None and _reveal(key) != "" for key in keys)
        # No key at all is fine here: introspection, ISSUERS or a verifier passed in code may
        # verify instead. Whoever builds the default verifier refuses to start without any.
        if configured > 1:
            raise ConfigurationError(
                f"Set only one of {ENV_PREFIX}JWT_SECRET, {ENV_PREFIX}JWT_PUBLIC_KEY and {ENV_PREFIX}JWKS_URL"
            )
        algorithms = set(self.jwt_algorithms)
        if not algorithms:
            raise ConfigurationError(f"{ENV_PREFIX}JWT_ALGORITHMS is empty")
        if any(alg.lower() == "none" for alg in algorithms):
            raise ConfigurationError(f"{ENV_PREFIX}JWT_ALGORITHMS must not contain 'none'")
        unknown = algorithms - HMAC_ALGORITHMS - PUBLIC_KEY_ALGORITHMS
        if unknown:
            raise ConfigurationError(f"{ENV_PREFIX}JWT_ALGORITHMS has unknown algorithms: {sorted(unknown)}")
        if algorithms & HMAC_ALGORITHMS and algorithms & PUBLIC_KEY_ALGORITHMS:
            raise ConfigurationError(f"{ENV_PREFIX}JWT_ALGORITHMS mixes HMAC and public-key algorithms (key confusion)")
        if self.jwt_secret is not None:
            if not algorithms <= HMAC_ALGORITHMS:
                raise ConfigurationError(f"{ENV_PREFIX}JWT_SECRET needs HS256, HS384 or HS512 in JWT_ALGORITHMS")
            needed = max(MIN_SECRET_BYTES, *(HMAC_KEY_BYTES[alg] for alg in algorithms))
            secret = self.jwt_secret.get_secret_value()
            if len(secret.encode()) < needed:
                raise ConfigurationError(
                    f"{ENV_PREFIX}JWT_SECRET must be at least {needed} bytes for {', '.join(sorted(algorithms))}"
                )
            if _is_placeholder(secret):
                raise ConfigurationError(
                    f"{ENV_PREFIX}JWT_SECRET is a repeated pattern or whitespace, not a random key"
                )
        elif configured and not algorithms <= PUBLIC_KEY_ALGORITHMS:
            which = "JWT_PUBLIC_KEY" if self.jwt_public_key is not None else "JWKS_URL"
            raise ConfigurationError(f"{ENV_PREFIX}{which} needs public-key algorithms in JWT_ALGORITHMS")
        if self.jwks_url is not None and not is_trusted_url(self.jwks_url):
            raise ConfigurationError(
                f"{ENV_PREFIX}JWKS_URL must be an https URL (plain http only for a loopback address)"
            )
        if self.jwt_verify_audience and not self.jwt_audience and (configured or self.introspection_url):
            raise ConfigurationError(
                f"{ENV_PREFIX}JWT_AUDIENCE is required (or set {ENV_PREFIX}JWT_VERIFY_AUDIENCE=false)"
            )
        for path in self.browser_origin_paths:
            if not path.startswith("/") or path.rstrip("/") == "":
                raise ConfigurationError(
                    f"{ENV_PREFIX}BROWSER_ORIGIN_PATHS entries are absolute paths other than '/': {path!r}"
                )
        if not self.mcp_paths:
            raise ConfigurationError(f"{ENV_PREFIX}MCP_PATHS is empty: MCP endpoints would go unchecked")
        for path in [*self.public_paths, *self.mcp_paths]:
            if not path.startswith("/"):
                raise ConfigurationError(f"{ENV_PREFIX}PUBLIC_PATHS and MCP_PATHS entries start with '/': {path!r}")
        if not self.cookie_name or not self.header_name:
            raise ConfigurationError(f"{ENV_PREFIX}COOKIE_NAME and {ENV_PREFIX}HEADER_NAME must not be empty")
        self._validate_permissions()
        self._validate_origins()
        self._validate_oauth()
        return self

    def _validate_oauth(self) -> None:
        if self.introspection_url is not None and not is_trusted_url(self.introspection_url):
            raise ConfigurationError(
                f"{ENV_PREFIX}INTROSPECTION_URL must be an https URL (plain http only for a loopback address)"
            )
        if (self.introspection_client_id is None) != (self.introspection_client_secret is None):
            raise ConfigurationError(
                f"Set both {ENV_PREFIX}INTROSPECTION_CLIENT_ID and {ENV_PREFIX}INTROSPECTION_CLIENT_SECRET, or neither"
            )
        issuers = self.issuer_configs()
        if (
            issuers
            and self.jwt_issuer is None
            and any(key is not None for key in (self.jwt_secret, self.jwt_public_key, self.jwks_url))
        ):
            # Otherwise a token naming any issuer could reach the primary key.
            raise ConfigurationError(f"{ENV_PREFIX}JWT_ISSUER is required when {ENV_PREFIX}ISSUERS is set")
        if self.jwt_issuer is not None and any(item.issuer == self.jwt_issuer for item in issuers):
            raise ConfigurationError(f"{ENV_PREFIX}ISSUERS repeats {ENV_PREFIX}JWT_ISSUER")

    def issuer_configs(self) -> tuple[IssuerConfig, ...]:
        """`ISSUERS` parsed and checked: one entry per issuer, each with exactly one key source."""
        return parse_issuers(self.issuers)

    def scope_grants(self) -> Mapping[str, frozenset[str]]:
        """`SCOPE_PERMISSIONS` parsed and checked: OAuth scope -> the permissions it grants."""
        return parse_scope_permissions(self.scope_permissions)

    def _validate_origins(self) -> None:
        # The browser policy owns what an origin setting may be.
        BrowserPolicy(
            origin_paths=self.browser_origin_paths,
            public_origin=self.public_origin,
            trusted_origins=self.trusted_origins,
        )

    def _validate_permissions(self) -> None:
        # Parsed here so a malformed policy or method map fails at start-up, naming its fault.
        if self.rbac_policy is not None:
            RBACPolicy.from_source(self.rbac_policy)
        self.scope_grants()
        MethodPermissions.from_json(self.mcp_method_permissions)

    @model_validator(mode="after")
    def _validate_revocation(self) -> AuthSettings:
        url = self.revocation_redis_url
        if url is not None and not url.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            # Never echo the URL: it may carry the Redis password.
            raise ConfigurationError(f"{ENV_PREFIX}REVOCATION_REDIS_URL must be a redis://, rediss:// or unix:// URL")
        return self

    def public_key_pem(self) -> str | None:
        """The PEM text of `JWT_PUBLIC_KEY`, read from a file when the value is a path."""
        if self.jwt_public_key is None:
            return None
        value = self.jwt_public_key.get_secret_value().strip()
        if value.startswith("-----BEGIN"):
            return value
        try:
            return Path(value).read_text().strip()
        except OSError:
            raise ConfigurationError(f"{ENV_PREFIX}JWT_PUBLIC_KEY is neither PEM text nor a readable file") from None


def refuse_unknown_variables(environ: Mapping[str, str], settings_type: type[BaseSettings]) -> None:
    """Raise `ConfigurationError` for an `MCP_AUTH_*` variable that names no setting: a typo
    (`MCP_AUTH_JWT_AUDIENCEE`) would otherwise leave the setting at its default unnoticed. The
    error names the variable and the closest setting, never the value."""
    known = sorted(name.upper() for name in settings_type.model_fields)
    unknown = sorted(
        name for name in environ if name.upper().startswith(ENV_PREFIX) and name.upper()[len(ENV_PREFIX) :] not in known
    )
    if not unknown:
        return
    parts = []
    for name in unknown:
        # Compared without the shared prefix, which would make every name look close.
        close = difflib.get_close_matches(name.upper()[len(ENV_PREFIX) :], known, n=1, cutoff=0.6)
        parts.append(f"{name} (did you mean {ENV_PREFIX}{close[0]}?)" if close else name)
    raise ConfigurationError(f"Unknown environment variable: {', '.join(parts)}")


def _is_placeholder(secret: str) -> bool:
    """Whitespace only, or one short unit repeated (`aaaa...`, `abab...`, `0000...`)."""
    if not secret.strip():
        return True
    for width in range(1, 5):
        unit = secret[:width]
        if len(secret) > width and unit * (len(secret) // width) + unit[: len(secret) % width] == secret:
            return True
    return False


def _reveal(value: SecretStr | str) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _describe(exc: ValidationError) -> str:
    # Name the variable and what is wrong, never the value: it may be a secret.
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(loc) for loc in error["loc"]) or "settings"
        parts.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
    return "; ".join(parts)
