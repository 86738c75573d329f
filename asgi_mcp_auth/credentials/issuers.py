"""Several issuers at once: `IssuerRouter` picks the verifier by the token, and
`verifier_from_settings` builds the verifier the settings describe.

Trust assumptions: the unverified `iss` of a JWT only CHOOSES which verifier checks it; that
verifier then checks the signature with its own issuer's keys only, and `iss` and `aud` exactly.
So a token of issuer A is never checked with issuer B's keys, and naming another issuer in a
forged token only changes which key refuses it. A token that is not a JWT goes to introspection
(RFC 7662) when it is configured, and is refused otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from typing import Any

from ..core.errors import AuthenticationError, ConfigurationError
from ..core.principal import Principal
from ..policy.precedence import Credential
from ..policy.rbac import RBACPolicy
from ..settings import ENV_PREFIX, AuthSettings, IssuerConfig
from .claims import ClaimsMapper
from .introspection import IntrospectionVerifier
from .jwks import JWKSClient
from .jwt import JWTVerifier, load_public_key
from .verifier import TokenVerifier

__all__ = ["IssuerRouter", "unverified_issuer", "verifier_from_settings"]

_NOT_FOR_THIS_RESOURCE = "Token not accepted for this resource"
_MAX_SEGMENT_CHARS = 65_536


def _segment(value: str) -> Any:
    if len(value) > _MAX_SEGMENT_CHARS:
        raise ValueError("segment too long")
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def unverified_issuer(token: str) -> tuple[bool, str | None]:
    """(is it a JWT, its `iss` when that is a string). Nothing here is trusted: it only chooses
    the verifier, which checks everything again with its own keys."""
    parts = token.split(".")
    if len(parts) != 3:
        return False, None
    try:
        header, payload = _segment(parts[0]), _segment(parts[1])
    except (ValueError, binascii.Error, RecursionError, UnicodeDecodeError):
        return False, None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return False, None
    issuer = payload.get("iss")
    return True, issuer if isinstance(issuer, str) else None


class IssuerRouter:
    """A `TokenVerifier` that hands each token to the one verifier responsible for it.

    `issuers` maps an issuer (`iss`, compared exactly) to the verifier of its JWTs; `default`
    verifies JWTs of no listed issuer (the single `JWT_*` configuration without `JWT_ISSUER`);
    `introspection` verifies tokens that are not JWTs, and JWTs of no listed issuer when there is
    no `default` (its authorization server may issue JWTs too).
    """

    def __init__(
        self,
        issuers: Mapping[str, TokenVerifier],
        *,
        default: TokenVerifier | None = None,
        introspection: TokenVerifier | None = None,
    ) -> None:
        if default is not None and issuers:
            raise ConfigurationError("A default JWT verifier beside per-issuer verifiers would accept any issuer")
        self.issuers = dict(issuers)
        self.default = default
        self.introspection = introspection

    def __repr__(self) -> str:
        return f"IssuerRouter(issuers={sorted(self.issuers)!r}, introspection={self.introspection is not None})"

    def members(self) -> Iterator[TokenVerifier]:
        """Every verifier this router may hand a token to."""
        yield from self.issuers.values()
        if self.default is not None:
            yield self.default
        if self.introspection is not None:
            yield self.introspection

    def verifier_for(self, token: str) -> TokenVerifier:
        """The verifier responsible for `token`; `AuthenticationError` when there is none."""
        is_jwt, issuer = unverified_issuer(token)
        if is_jwt:
            chosen = self.issuers.get(issuer) if issuer is not None else None
            chosen = chosen or self.default or self.introspection
            if chosen is None:
                raise AuthenticationError(_NOT_FOR_THIS_RESOURCE)
            return chosen
        if self.introspection is None:
            raise AuthenticationError("Invalid token")
        return self.introspection

    async def verify(self, credential: Credential) -> Principal:
        return await self.verifier_for(credential.token).verify(credential)

    async def aclose(self) -> None:
        for member in self.members():
            close = getattr(member, "aclose", None)
            if close is not None:
                await close()


def _issuer_verifier(config: IssuerConfig, settings: AuthSettings, mapper: ClaimsMapper) -> JWTVerifier:
    key = load_public_key(config.public_key, config.algorithms) if config.public_key is not None else None
    resolver = None
    if key is None:
        assert config.jwks_url is not None  # noqa: S101 - parse_issuers guarantees one key source
        resolver = JWKSClient.from_settings(settings, url=config.jwks_url, algorithms=config.algorithms)
    return JWTVerifier(
        algorithms=config.algorithms,
        key=key,
        key_resolver=resolver,
        audience=config.audience,
        issuer=config.issuer,
        leeway=settings.jwt_leeway_seconds,
        claims_mapper=mapper,
    )


def verifier_from_settings(settings: AuthSettings, *, rbac: RBACPolicy | None = None) -> TokenVerifier:
    """The verifier `settings` describe: the `JWT_*` key, `INTROSPECTION_URL`, `ISSUERS`, or a
    router over several of them. `ConfigurationError` when they describe none."""
    mapper = ClaimsMapper(
        rbac=rbac,
        roles_claim=settings.roles_claim,
        teams_claim=settings.teams_claim,
        team_roles_claim=settings.team_roles_claim,
    )
    has_key = any(key is not None for key in (settings.jwt_secret, settings.jwt_public_key, settings.jwks_url))
    primary = JWTVerifier.from_settings(settings, rbac=rbac) if has_key else None
    introspection = (
        IntrospectionVerifier.from_settings(settings, claims_mapper=mapper) if settings.introspection_url else None
    )
    issuers: dict[str, TokenVerifier] = {
        config.issuer: _issuer_verifier(config, settings, mapper) for config in settings.issuer_configs()
    }
    if primary is None and introspection is None and not issuers:
        raise ConfigurationError(
            f"No verification key: set {ENV_PREFIX}JWT_SECRET, {ENV_PREFIX}JWT_PUBLIC_KEY or {ENV_PREFIX}JWKS_URL, "
            f"{ENV_PREFIX}INTROSPECTION_URL or {ENV_PREFIX}ISSUERS (or pass verifier= or authenticate=)"
        )
    if not issuers and introspection is None:
        assert primary is not None  # noqa: S101 - checked above
        return primary
    if not issuers and primary is None:
        assert introspection is not None  # noqa: S101 - checked above
        return introspection
    default = None
    if primary is not None:
        if settings.jwt_issuer is not None:
            issuers[settings.jwt_issuer] = primary
        else:
            default = primary  # settings refuse JWT_* without JWT_ISSUER beside ISSUERS
    return IssuerRouter(issuers, default=default, introspection=introspection)
