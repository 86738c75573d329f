"""One reading of every counter of an authenticator: what both exporters report.

The request path only increments integers (`core.stats.AuthStats`, and the counters the
verified-token cache, the JWKS clients and the introspection verifier keep); this module reads
them when an exporter is scraped or collected, possibly from another thread, so it copies
before it iterates and never writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ...core.stats import LATENCY_BOUNDS, AuthStats
from ...credentials.introspection import IntrospectionVerifier
from ...credentials.issuers import IssuerRouter
from ...credentials.jwks import JWKSClient
from ...credentials.jwt import JWTVerifier
from ...credentials.revocation_state import RevocationState
from ...credentials.verifier import TokenVerifier
from ...pipeline.authenticator import Authenticator
from ...pipeline.middleware import MCPAuthMiddleware
from ...pipeline.timing import verifier_kind

__all__ = ["SCALARS", "HistogramReading", "MetricsSnapshot", "Scalar", "authenticator_of", "read_snapshot"]


@dataclass(frozen=True, slots=True)
class HistogramReading:
    """`counts[i]`: observations in bucket i (`<= bounds[i]`; the last bucket is unbounded)."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[int]:
        """Observations `<= bounds[i]` for each bound, then all of them (Prometheus's `le`)."""
        running, result = 0, []
        for count in self.counts:
            running += count
            result.append(running)
        return result


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSnapshot:
    """Every count at one moment. Counters only grow (per process); sizes are current values."""

    decisions: Mapping[tuple[str, str], int]  # (outcome, reason) -> count
    verification: Mapping[str, HistogramReading]  # verifier kind -> seconds per verification
    token_cache_hits: int
    token_cache_misses: int
    token_cache_evictions: int
    token_cache_size: int
    token_cache_capacity: int
    jwks_fetches: int
    jwks_fetch_failures: int
    introspection_requests: int
    introspection_failures: int
    revocations: Mapping[str, int]  # kind -> revocations made through `Authenticator.revoke`
    revoked_refusals: int
    revocation_store_size: int | None  # None when the store keeps no `RevocationState` in memory


@dataclass(frozen=True, slots=True)
class Scalar:
    """An unlabelled metric: its OpenTelemetry name (Prometheus's is the same with `_` for `.`,
    the name of the `MetricsSnapshot` field it reads; a counter gets `_total`), type and unit."""

    name: str
    kind: Literal["counter", "gauge"]
    unit: str
    description: str

    @property
    def field(self) -> str:
        return self.name.replace(".", "_")


SCALARS = (
    Scalar("token_cache.hits", "counter", "{lookup}", "Requests whose token the verified-token cache held."),
    Scalar(
        "token_cache.misses",
        "counter",
        "{lookup}",
        "Credentials the cache did not hold, each verified.",
    ),
    Scalar(
        "token_cache.evictions",
        "counter",
        "{entry}",
        "Entries dropped from the verified-token cache to keep its bound.",
    ),
    Scalar("token_cache.size", "gauge", "{entry}", "Entries in the verified-token cache now."),
    Scalar("token_cache.capacity", "gauge", "{entry}", "The bound of the verified-token cache (TOKEN_CACHE_SIZE)."),
    Scalar("jwks.fetches", "counter", "{fetch}", "JWKS fetches attempted."),
    Scalar("jwks.fetch_failures", "counter", "{fetch}", "JWKS fetches that failed (the last good keys stay in use)."),
    Scalar("introspection.requests", "counter", "{request}", "Token introspection requests sent."),
    Scalar("introspection.failures", "counter", "{request}", "Introspection requests without a usable answer (503)."),
    Scalar("revoked_refusals", "counter", "{request}", "Requests refused because their token was revoked."),
    Scalar("revocation_store.size", "gauge", "{revocation}", "Revocations the revocation store holds in memory."),
)


def authenticator_of(source: Authenticator | MCPAuthMiddleware) -> Authenticator:
    """The authenticator whose counters `source` stands for."""
    if isinstance(source, MCPAuthMiddleware):
        return source.authenticator
    if isinstance(source, Authenticator):
        return source
    raise TypeError(f"Expected an Authenticator or an MCPAuthMiddleware, not {type(source).__name__}")


def _verifiers(authenticator: Authenticator) -> list[TokenVerifier]:
    verifier = authenticator.verifier
    if verifier is None:
        return []
    return list(verifier.members()) if isinstance(verifier, IssuerRouter) else [verifier]


def read_snapshot(authenticator: Authenticator) -> MetricsSnapshot:
    """Read every counter of `authenticator` now."""
    stats: AuthStats = authenticator.stats
    verifiers = _verifiers(authenticator)
    jwks = list(
        dict.fromkeys(
            verifier.key_resolver
            for verifier in verifiers
            if isinstance(verifier, JWTVerifier) and isinstance(verifier.key_resolver, JWKSClient)
        )
    )
    introspection = [verifier for verifier in verifiers if isinstance(verifier, IntrospectionVerifier)]
    # The configured kinds are reported from the start, at zero; another kind once it is seen.
    kinds = {verifier_kind(verifier) for verifier in verifiers}
    verification = {
        kind: HistogramReading(LATENCY_BOUNDS, tuple(histogram.counts), histogram.total)
        for kind, histogram in stats.verifications.items()
    }
    state = getattr(authenticator.revocation, "state", None)
    cache = authenticator.cache
    return MetricsSnapshot(
        decisions=stats.decisions(),
        verification={kind: reading for kind, reading in verification.items() if kind in kinds or reading.count},
        token_cache_hits=cache.hits,
        token_cache_misses=cache.misses,
        token_cache_evictions=cache.evictions,
        token_cache_size=len(cache),
        token_cache_capacity=cache.maxsize,
        jwks_fetches=sum(client.fetches for client in jwks),
        jwks_fetch_failures=sum(client.fetch_failures for client in jwks),
        introspection_requests=sum(verifier.calls for verifier in introspection),
        introspection_failures=sum(verifier.failures for verifier in introspection),
        revocations=dict(stats.revocations),
        revoked_refusals=stats.revoked_refusals,
        revocation_store_size=len(state) if isinstance(state, RevocationState) else None,
    )
