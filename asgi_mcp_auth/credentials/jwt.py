"""`JWTVerifier`: JWTs verified with PyJWT, with a secret, a PEM public key or JWKS keys.

Every exception raised while decoding untrusted input becomes `AuthenticationError` with a
generic message: PyJWT raises `TypeError` or `RecursionError` for some crafted tokens, and
neither may turn into a 500 or leak into a response.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import HMACAlgorithm

from ..core.algorithms import HMAC_ALGORITHMS
from ..core.errors import AuthenticationError, ConfigurationError
from ..core.principal import Principal, TokenSource
from ..policy.precedence import Credential
from ..policy.rbac import RBACPolicy
from ..settings import AuthSettings
from .claims import ClaimsMapper
from .fast_jwt import FastDecoder, ParsedToken, fast_path_available
from .jwks import JWKSClient
from .verifier import KeyResolver

__all__ = ["JWTVerifier", "load_public_key"]

logger = logging.getLogger("asgi_mcp_auth.verify")
LOG_DECODE_FAILED = "Token refused: %s"

_KEY_FAMILIES: Mapping[type[Any], tuple[str, ...]] = {
    rsa.RSAPublicKey: ("RS", "PS"),
    ec.EllipticCurvePublicKey: ("ES",),
    ed25519.Ed25519PublicKey: ("EdDSA",),
    ed448.Ed448PublicKey: ("EdDSA",),
}


_TIME_CLAIMS = ("exp", "nbf", "iat")
# RFC 7515 §7.1: three base64url parts without padding. PyJWT also decodes padded or otherwise
# re-spelled parts, which gives one signed token many spellings: a denylist or a log keyed by
# the token text would miss them.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_CRITICAL_REFUSED = "Token has unsupported critical header parameters"


class JWTVerifier:
    """Verifies JWTs with a secret, a PEM public key, or keys from a `KeyResolver` (JWKS).

    Requires `exp` and `sub`; checks `aud` and compares `iss` exactly; refuses `crit`.
    """

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        key: Any = None,
        key_resolver: KeyResolver | None = None,
        audience: str | None = None,
        verify_audience: bool = True,
        issuer: str | None = None,
        leeway: float = 30,
        claims_mapper: Callable[[Mapping[str, Any], TokenSource], Principal] | None = None,
        fast: bool = True,
    ) -> None:
        if (key is None) == (key_resolver is None):
            raise ConfigurationError("JWTVerifier needs exactly one of key and key_resolver")
        if any(alg.lower() == "none" for alg in algorithms):
            raise ConfigurationError("MCP_AUTH_JWT_ALGORITHMS must not contain 'none'")
        if verify_audience and not audience:
            raise ConfigurationError("MCP_AUTH_JWT_AUDIENCE is required")
        self.algorithms = list(algorithms)
        self.key = key
        self._decode_key = _prepared_hmac_key(key, self.algorithms)
        self.key_resolver = key_resolver
        self.audience = audience if verify_audience else None
        self.issuer = issuer
        self.leeway = leeway
        self.claims_mapper = claims_mapper or ClaimsMapper()
        self._options: dict[str, Any] = {
            "require": ["exp", "sub"],
            "verify_aud": verify_audience,
            "verify_iss": issuer is not None,
        }
        self._fast = (
            FastDecoder(algorithms=self.algorithms, key=key, audience=self.audience, issuer=issuer, leeway=leeway)
            if fast and fast_path_available()
            else None
        )

    @classmethod
    def from_settings(
        cls,
        settings: AuthSettings,
        *,
        rbac: RBACPolicy | None = None,
        key_resolver: KeyResolver | None = None,
    ) -> JWTVerifier:
        key: Any = None
        if settings.jwt_secret is not None:
            key = settings.jwt_secret.get_secret_value()
        elif settings.jwt_public_key is not None:
            key = load_public_key(settings.public_key_pem() or "", settings.jwt_algorithms)
        elif key_resolver is None:
            key_resolver = JWKSClient.from_settings(settings)
        return cls(
            algorithms=settings.jwt_algorithms,
            key=key,
            key_resolver=key_resolver if key is None else None,
            audience=settings.jwt_audience,
            verify_audience=settings.jwt_verify_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            claims_mapper=ClaimsMapper(
                rbac=rbac,
                roles_claim=settings.roles_claim,
                teams_claim=settings.teams_claim,
                team_roles_claim=settings.team_roles_claim,
            ),
        )

    async def verify(self, credential: Credential) -> Principal:
        key = self.key
        header: Mapping[str, Any] | None = None
        parsed: ParsedToken | None = None
        if key is None:
            # The JWKS path: the header names the key. Parsed once, for the key and the decode.
            parsed = self._fast.parse(credential.token) if self._fast is not None else None
            header = parsed.header if parsed is not None else self._header(credential.token)
            assert self.key_resolver is not None  # noqa: S101 - guaranteed by __init__
            key = await self.key_resolver.key_for(header)
        claims = self.decode(credential.token, key, header, parsed)
        return self.claims_mapper(claims, credential.source)

    def decode(
        self, token: str, key: Any, header: Mapping[str, Any] | None = None, parsed: ParsedToken | None = None
    ) -> dict[str, Any]:
        """The verified claims of `token`; raises `AuthenticationError` for any failure.

        `header` is the token's unverified header when the caller already parsed it (to find
        the key); otherwise the token is parsed once, by PyJWT, and its header checked after.
        The common token takes `FastDecoder`'s way; whatever it does not accept, PyJWT decides.
        """
        claims = self._fast_claims(token, key, parsed)
        if claims is None:
            claims = self._pyjwt_claims(token, key, header)
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise AuthenticationError("Token not accepted for this resource")
        for name in _TIME_CLAIMS:
            # PyJWT accepts numeric strings; RFC 7519 NumericDate is a JSON number, and the
            # verified-token cache relies on `exp` being one.
            if name in claims and (not isinstance(claims[name], int | float) or isinstance(claims[name], bool)):
                raise AuthenticationError("Invalid token")
        return claims

    def _fast_claims(self, token: str, key: Any, parsed: ParsedToken | None) -> dict[str, Any] | None:
        if self._fast is None:
            return None
        if key is self.key:
            return self._fast.decode(token)
        if parsed is None:
            parsed = self._fast.parse(token)
        return self._fast.decode_parsed(parsed, key) if parsed is not None else None

    def _pyjwt_claims(self, token: str, key: Any, header: Mapping[str, Any] | None) -> dict[str, Any]:
        """Stock `jwt.decode_complete`, its exceptions mapped to public messages."""
        if key is self.key:
            key = self._decode_key
        if not _COMPACT_JWS.fullmatch(token):
            raise AuthenticationError("Invalid token")
        try:
            if header is not None and "crit" in header:
                raise AuthenticationError(_CRITICAL_REFUSED)
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=self._options,  # type: ignore[arg-type]
            )
            if "crit" in decoded["header"]:
                raise AuthenticationError(_CRITICAL_REFUSED)
            claims: dict[str, Any] = decoded["payload"]
        except AuthenticationError:
            raise
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("Token expired") from None
        except (jwt.InvalidAudienceError, jwt.MissingRequiredClaimError, jwt.InvalidIssuerError) as exc:
            logger.info(LOG_DECODE_FAILED, type(exc).__name__)
            raise AuthenticationError("Token not accepted for this resource") from None
        except Exception as exc:
            logger.info(LOG_DECODE_FAILED, type(exc).__name__)
            raise AuthenticationError("Invalid token") from None
        return claims

    @staticmethod
    def _header(token: str) -> Mapping[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except Exception:
            raise AuthenticationError("Invalid token") from None
        return header


class _PreparedHMAC(HMACAlgorithm):
    """PyJWT's HMAC for one secret, prepared once: PyJWT checks on every verification that an
    HMAC key is not a PEM, SSH or DER public key, which costs about as much as the MAC itself.
    The check runs here, at start-up, with PyJWT's own code; any other key is prepared as usual."""

    def __init__(self, hash_alg: Any, secret: bytes) -> None:
        super().__init__(hash_alg)
        self._secret = secret
        self._prepared = super().prepare_key(secret)

    def prepare_key(self, key: str | bytes) -> bytes:
        return self._prepared if key == self._secret else super().prepare_key(key)


def _prepared_hmac_key(key: Any, algorithms: Sequence[str]) -> Any:
    """`key` as PyJWT wants it: a `PyJWK` bound to the one HMAC algorithm configured, with the
    secret prepared once; any other key (or several algorithms) is left as it is."""
    if not isinstance(key, str | bytes) or len(set(algorithms)) != 1 or algorithms[0] not in HMAC_ALGORITHMS:
        return key
    secret = key.encode() if isinstance(key, str) else key
    try:
        jwk = jwt.PyJWK({"kty": "oct", "k": jwt.utils.base64url_encode(secret).decode()}, algorithm=algorithms[0])
        jwk.Algorithm = _PreparedHMAC(jwk.Algorithm.hash_alg, jwk.key)  # type: ignore[attr-defined]
    except jwt.InvalidKeyError:
        raise ConfigurationError("MCP_AUTH_JWT_SECRET must not be a public key or certificate") from None
    return jwk


def load_public_key(pem: str, algorithms: Sequence[str]) -> Any:
    """Load a PEM public key once, and check that it suits every configured algorithm."""
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise ConfigurationError("MCP_AUTH_JWT_PUBLIC_KEY is not a PEM public key") from None
    families = next((fam for kind, fam in _KEY_FAMILIES.items() if isinstance(key, kind)), ())
    for alg in algorithms:
        if alg in HMAC_ALGORITHMS or not alg.startswith(families or ("-",)):
            raise ConfigurationError(f"MCP_AUTH_JWT_ALGORITHMS: {alg} does not fit the key in MCP_AUTH_JWT_PUBLIC_KEY")
    return key
