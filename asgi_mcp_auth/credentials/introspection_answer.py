"""What an RFC 7662 introspection answer must say for its token to be accepted here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.errors import AuthenticationError

__all__ = ["accepted_claims"]

_TIME_CLAIMS = ("exp", "nbf", "iat")
_NOT_FOR_THIS_RESOURCE = "Token not accepted for this resource"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def accepted_claims(
    answer: Mapping[str, Any], *, audience: str | None, issuer: str | None, now: float
) -> dict[str, Any]:
    """The claims of an accepted token, with `sub` filled in; `AuthenticationError` otherwise.

    `active` must be exactly `true`; time claims are JSON numbers and `exp` is in the future;
    `aud` contains `audience` (RFC 8707) unless it is None; an `iss` in the answer equals
    `issuer` when one is configured. RFC 7662 makes `sub` optional: without it the principal is
    the client (`client_id`), else the `username`.
    """
    if answer.get("active") is not True:
        raise AuthenticationError("Invalid token")
    for name in _TIME_CLAIMS:
        if name in answer and not _is_number(answer[name]):
            raise AuthenticationError("Invalid token")
    exp = answer.get("exp")
    if exp is not None and exp <= now:
        raise AuthenticationError("Token expired")
    if audience is not None:
        stated = answer.get("aud")
        audiences = [stated] if isinstance(stated, str) else stated
        if not isinstance(audiences, list) or audience not in audiences:
            raise AuthenticationError(_NOT_FOR_THIS_RESOURCE)
    stated_issuer = answer.get("iss")
    if issuer is not None and stated_issuer is not None and stated_issuer != issuer:
        raise AuthenticationError(_NOT_FOR_THIS_RESOURCE)
    claims = {name: value for name, value in answer.items() if name != "active"}
    if issuer is not None:
        claims.setdefault("iss", issuer)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        for fallback in ("client_id", "username"):
            value = claims.get(fallback)
            if isinstance(value, str) and value:
                claims["sub"] = value
                break
    return claims
