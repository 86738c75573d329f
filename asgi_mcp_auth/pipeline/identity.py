"""`Identity`: what the middleware writes into the scope for an authenticated request, built
once per verified credential and cached with it."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.authentication import AuthCredentials, BaseUser

from ..core.principal import Principal
from ..credentials.revocation import RevocationKey, revocation_key
from ..policy.precedence import token_of
from .grants import granted_credentials
from .users import make_user

__all__ = ["Identity", "identity_of"]


@dataclass(frozen=True, slots=True)
class Identity:
    """What the middleware writes into the scope for an authenticated request."""

    principal: Principal
    user: BaseUser
    auth: AuthCredentials
    credential: bytes | str | None  # the header value (`Bearer <token>`) or the cookie's token
    revocation_key: RevocationKey

    @property
    def token(self) -> str | None:
        """The bearer token (None for a custom authenticator's identity)."""
        return token_of(self.credential)

    def __repr__(self) -> str:
        # The bearer token never appears in a repr, a log line or a traceback's locals.
        token = "None" if self.token is None else f"<{len(self.token)} chars>"
        return f"Identity(principal={self.principal!r}, token={token})"

    __str__ = __repr__


def identity_of(principal: Principal, credential: bytes | str | None, token: str | None) -> Identity:
    """The `Identity` of a verified `principal`. `credential` is what the verified-token cache
    keys it by (the header value, or a cookie's token; None for a custom authenticator), and
    is kept as that same object, so a cached token is held once."""
    return Identity(
        principal=principal,
        user=make_user(principal, credential),
        auth=granted_credentials(principal.permissions),
        credential=credential,
        revocation_key=revocation_key(principal, token),
    )
