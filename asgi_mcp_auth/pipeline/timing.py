"""Verification timed by the kind of verifier that did it, for the latency histogram.

Only cache misses get here (a cached token is never verified again), so timing costs nothing on
the warm path. A token routed by an `IssuerRouter` is timed under the verifier it is routed to.
"""

from __future__ import annotations

import time

from ..core.principal import Principal
from ..core.stats import AuthStats
from ..credentials.introspection import IntrospectionVerifier
from ..credentials.issuers import IssuerRouter
from ..credentials.jwks import JWKSClient
from ..credentials.jwt import JWTVerifier
from ..credentials.verifier import TokenVerifier
from ..policy.precedence import Credential

__all__ = ["timed_verify", "verifier_kind"]


def verifier_kind(verifier: TokenVerifier) -> str:
    """`jwt` (a static key), `jwks`, `introspection`, or `custom` for any other verifier."""
    if isinstance(verifier, JWTVerifier):
        return "jwks" if isinstance(verifier.key_resolver, JWKSClient) else "jwt"
    if isinstance(verifier, IntrospectionVerifier):
        return "introspection"
    return "custom"


async def timed_verify(verifier: TokenVerifier, credential: Credential, stats: AuthStats) -> Principal:
    """`verifier.verify(credential)`, its duration (refusals included) counted in `stats`."""
    if isinstance(verifier, IssuerRouter):
        verifier = verifier.verifier_for(credential.token)  # what IssuerRouter.verify does
    kind = verifier_kind(verifier)
    started = time.perf_counter()
    try:
        return await verifier.verify(credential)
    finally:
        stats.observe_verification(kind, time.perf_counter() - started)
