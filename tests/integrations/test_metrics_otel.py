"""OpenTelemetry metrics: real requests through the middleware, read back with the SDK's
`InMemoryMetricReader` as an exporter would receive them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from apps import RecordingApp, client, raw_scope
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from tokens import settings, token

from asgi_mcp_auth import Authenticator, AuthSettings, MCPAuthMiddleware
from asgi_mcp_auth.core.stats import LATENCY_BOUNDS
from asgi_mcp_auth.integrations.metrics import OpenTelemetryMetrics
from asgi_mcp_auth.testing import JWKSServer, TokenFactory

pytestmark = pytest.mark.anyio

Attributes = tuple[tuple[str, Any], ...]


class Watched:
    def __init__(self, config: AuthSettings | None = None) -> None:
        self.authenticator = Authenticator.from_settings(config or settings())
        self.app = MCPAuthMiddleware(RecordingApp(), authenticator=self.authenticator)
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.metrics = OpenTelemetryMetrics(self.authenticator, meter_provider=self.provider)

    def points(self) -> dict[str, dict[Attributes, Any]]:
        """Metric name -> attributes -> data point, as the reader collects them now."""
        found: dict[str, dict[Attributes, Any]] = {}
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                assert scope.scope.name == "asgi_mcp_auth"
                for metric in scope.metrics:
                    points = found.setdefault(metric.name, {})
                    for point in metric.data.data_points:
                        points[tuple(sorted((point.attributes or {}).items()))] = point
        return found

    def value(self, name: str, **attributes: str) -> int | float:
        point = self.points()[name][tuple(sorted(attributes.items()))]
        assert isinstance(point, NumberDataPoint)
        return point.value


async def get(watched: Watched, bearer: str | None = None, path: str = "/tools") -> int:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    async with client(watched.app) as http:
        return (await http.get(path, headers=headers)).status_code


async def test_decisions_are_observable_counters_by_outcome_and_reason() -> None:
    watched = Watched()
    assert await get(watched, token("alice")) == 200
    assert await get(watched) == 401
    assert await get(watched, token("alice", exp=int(time.time()) - 120)) == 401
    assert await get(watched, path="/health") == 200
    assert watched.value("mcp_auth.decisions", outcome="authenticated", reason="none") == 1
    assert watched.value("mcp_auth.decisions", outcome="refused", reason="credentials_missing") == 1
    assert watched.value("mcp_auth.decisions", outcome="refused", reason="token_expired") == 1
    assert watched.value("mcp_auth.decisions", outcome="public", reason="none") == 1


async def test_cache_hits_misses_and_the_verification_histogram_are_reported() -> None:
    watched = Watched(settings(token_cache_size=1))
    alice = token("alice")
    for _ in range(3):
        assert await get(watched, alice) == 200
    assert await get(watched, token("bob")) == 200
    assert watched.value("mcp_auth.token_cache.hits") == 2
    assert watched.value("mcp_auth.token_cache.misses") == 2
    assert watched.value("mcp_auth.token_cache.evictions") == 1
    assert watched.value("mcp_auth.token_cache.size") == 1
    histogram = watched.points()["mcp_auth.verification.duration"][(("verifier", "jwt"),)]
    assert isinstance(histogram, HistogramDataPoint)
    assert histogram.count == 2
    assert histogram.sum > 0
    assert tuple(histogram.explicit_bounds) == LATENCY_BOUNDS


async def test_jwks_fetches_are_reported(
    mcp_auth_jwks: JWKSServer, mcp_auth_settings: AuthSettings, mcp_auth_tokens: TokenFactory
) -> None:
    watched = Watched(mcp_auth_settings)
    assert await get(watched, mcp_auth_tokens.make_token("alice")) == 200
    assert watched.value("mcp_auth.jwks.fetches") == 1
    assert watched.value("mcp_auth.jwks.fetch_failures") == 0
    histogram = watched.points()["mcp_auth.verification.duration"][(("verifier", "jwks"),)]
    assert histogram.count == 1


async def test_revocations_are_reported_by_kind_with_the_refusals_they_cause() -> None:
    watched = Watched()
    alice = token("alice")
    assert await get(watched, alice) == 200
    identity = await watched.authenticator.identify(raw_scope(headers=[("Authorization", f"Bearer {alice}")]))
    await watched.authenticator.revoke(identity)
    assert await get(watched, alice) == 401
    assert watched.value("mcp_auth.revocations", kind="token") == 1
    assert watched.value("mcp_auth.revocations", kind="subject") == 0
    assert watched.value("mcp_auth.revoked_refusals") == 1
    assert watched.value("mcp_auth.revocation_store.size") == 1


async def test_close_stops_recording_the_latency_histogram() -> None:
    watched = Watched()
    assert await get(watched, token("alice")) == 200
    watched.metrics.close()
    assert await get(watched, token("bob")) == 200
    histogram = watched.points()["mcp_auth.verification.duration"][(("verifier", "jwt"),)]
    assert histogram.count == 1
    assert watched.value("mcp_auth.decisions", outcome="authenticated", reason="none") == 2
