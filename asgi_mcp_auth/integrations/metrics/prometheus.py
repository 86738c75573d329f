"""Prometheus: a collector that reads the authenticator's counters at scrape time, and a
`/metrics` route for Starlette and FastAPI. Needs `pip install 'asgi-mcp-auth[prometheus]'`.

    registry = CollectorRegistry()
    PrometheusMetrics(authenticator, registry=registry)
    app.router.routes.append(metrics_route(registry))   # behind MCPAuthMiddleware: metrics.read

Nothing is recorded through `prometheus_client` on the request path (a labelled counter takes a
lock and a lookup per increment): requests add to plain integers, and `AuthCollector.collect`
builds the metric families from them when Prometheus scrapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.errors import AuthError, ConfigurationError
from ...pipeline.authenticator import Authenticator
from ...pipeline.checks import challenge_scopes, check_request, resource_metadata_url
from ...pipeline.context import AUTHENTICATOR_KEY
from ...pipeline.middleware import MCPAuthMiddleware
from ...pipeline.responses import error_response
from ...policy.rbac import validate_requirement
from .snapshot import SCALARS, MetricsSnapshot, authenticator_of, read_snapshot

try:
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.registry import Collector
    from prometheus_client.utils import floatToGoString as _untyped_go_float
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the library
    raise ImportError(
        "asgi_mcp_auth.integrations.metrics.prometheus needs prometheus-client: pip install 'asgi-mcp-auth[prometheus]'"
    ) from exc

__all__ = ["METRICS_PERMISSION", "AuthCollector", "PrometheusMetrics", "metrics_route"]

#: The permission `metrics_route` requires by default; the built-in `admin` role holds it.
METRICS_PERMISSION = "metrics.read"
_go_float = cast(Callable[[float], str], _untyped_go_float)  # how prometheus_client writes `le`
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _families(namespace: str, snapshot: MetricsSnapshot | None) -> Iterator[Metric]:
    """The metric families, with samples from `snapshot` (none for `describe`)."""
    decisions = CounterMetricFamily(
        f"{namespace}_decisions", "Authentication decisions, by outcome and reason.", labels=["outcome", "reason"]
    )
    latency = HistogramMetricFamily(
        f"{namespace}_verification_duration_seconds",
        "Time to verify a credential the verified-token cache did not hold, by verifier kind.",
        labels=["verifier"],
    )
    revocations = CounterMetricFamily(
        f"{namespace}_revocations", "Revocations made through Authenticator.revoke, by kind.", labels=["kind"]
    )
    if snapshot is not None:
        for (outcome, reason), count in sorted(snapshot.decisions.items()):
            decisions.add_metric([outcome, reason], count)
        for kind, reading in sorted(snapshot.verification.items()):
            bounds = [_go_float(bound) for bound in reading.bounds] + ["+Inf"]
            latency.add_metric([kind], list(zip(bounds, reading.cumulative(), strict=True)), reading.total)
        for kind, count in sorted(snapshot.revocations.items()):
            revocations.add_metric([kind], count)
    yield from (decisions, latency, revocations)
    for scalar in SCALARS:
        family_type = CounterMetricFamily if scalar.kind == "counter" else GaugeMetricFamily
        family = family_type(f"{namespace}_{scalar.name.replace('.', '_')}", scalar.description)
        value = getattr(snapshot, scalar.field) if snapshot is not None else None
        if value is not None:
            family.add_metric([], value)
        yield family


class AuthCollector(Collector):
    """A `prometheus_client` collector for one authenticator: its families are built from a
    `MetricsSnapshot` at each scrape."""

    def __init__(self, authenticator: Authenticator, namespace: str = "mcp_auth") -> None:
        if not _METRIC_NAME.fullmatch(namespace):
            raise ConfigurationError(f"Not a Prometheus metric name prefix: {namespace!r}")
        self.authenticator = authenticator
        self.namespace = namespace

    def describe(self) -> Iterable[Metric]:
        return list(_families(self.namespace, None))

    def collect(self) -> Iterable[Metric]:
        return list(_families(self.namespace, read_snapshot(self.authenticator)))


class PrometheusMetrics:
    """Registers an `AuthCollector` for the authenticator of `source` in `registry` (default: the
    process-wide `prometheus_client.REGISTRY`). Two authenticators in one registry need two
    namespaces. `unregister()` removes it."""

    def __init__(
        self,
        source: Authenticator | MCPAuthMiddleware,
        *,
        registry: CollectorRegistry | None = None,
        namespace: str = "mcp_auth",
    ) -> None:
        self.registry = registry if registry is not None else REGISTRY
        self.collector = AuthCollector(authenticator_of(source), namespace)
        self.registry.register(self.collector)

    def __repr__(self) -> str:
        return f"PrometheusMetrics(namespace={self.collector.namespace!r})"

    def unregister(self) -> None:
        self.registry.unregister(self.collector)


def metrics_route(
    registry: CollectorRegistry | None = None,
    *,
    path: str = "/metrics",
    permission: str | None = METRICS_PERMISSION,
) -> Route:
    """A Starlette `Route` serving `registry` (default `REGISTRY`) in the Prometheus text format
    (OpenMetrics when the scraper asks for it).

    By default the route is protected: served behind `MCPAuthMiddleware` like any other route,
    and only to a principal holding `permission` (`metrics.read`; `admin` holds it). Metrics
    name no user, but they tell anyone who reads them how much traffic the gateway serves,
    how much of it is refused and why, and when its identity provider fails: what a demanding
    operator shows to their monitoring, not to the internet. Give the scraper a token of its
    own (Prometheus's `authorization: {credentials_file: ...}`) with a role granting
    `metrics.read`. Anonymous: 401; without the permission: 403, both as the middleware answers.

    `permission=None` drops the check (any authenticated caller may read); to serve the route to
    anyone, pass `permission=None` AND add `path` to `MCP_AUTH_PUBLIC_PATHS`: an explicit opt-in,
    for a port or network only the scraper reaches. A route not behind the middleware with a
    permission answers 401 to everyone.
    """
    if permission is not None:
        validate_requirement(permission, None, None)
    served = registry if registry is not None else REGISTRY

    async def metrics(request: Request) -> Response:
        if permission is not None:
            try:
                check_request(request, permission)
            except AuthError as error:
                return _refusal(request, error)
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(served), headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    return Route(path, metrics, methods=["GET"], name="metrics")


def _refusal(request: Request, error: AuthError) -> Response:
    if AUTHENTICATOR_KEY not in request.scope:  # not behind the middleware: a plain challenge
        return error_response(error, jsonrpc=False)
    return error_response(
        error,
        jsonrpc=False,
        resource_metadata_url=resource_metadata_url(request),
        scopes=challenge_scopes(request),
    )
