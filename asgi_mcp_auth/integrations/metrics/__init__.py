"""Metrics operators can watch: Prometheus (`pip install 'asgi-mcp-auth[prometheus]'`) and
OpenTelemetry (`pip install 'asgi-mcp-auth[opentelemetry]'`).

    from asgi_mcp_auth.integrations.metrics import PrometheusMetrics, metrics_route
    from asgi_mcp_auth.integrations.metrics import OpenTelemetryMetrics

The request path only increments plain integers the package owns (`core.stats.AuthStats` and
the counters of the verified-token cache, the JWKS clients and the introspection verifier); an
exporter reads them when it is scraped or collected. No label ever holds a subject, a token, a
client id or a path: outcomes, reasons, verifier and revocation kinds are fixed vocabularies.

Each exporter module is imported on first use of its names, so this package imports (and the
middleware counts) without either library installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .snapshot import SCALARS, HistogramReading, MetricsSnapshot, Scalar, authenticator_of, read_snapshot

if TYPE_CHECKING:
    from .otel import OpenTelemetryMetrics
    from .prometheus import METRICS_PERMISSION, AuthCollector, PrometheusMetrics, metrics_route

__all__ = [
    "METRICS_PERMISSION",
    "SCALARS",
    "AuthCollector",
    "HistogramReading",
    "MetricsSnapshot",
    "OpenTelemetryMetrics",
    "PrometheusMetrics",
    "Scalar",
    "authenticator_of",
    "metrics_route",
    "read_snapshot",
]

_LAZY = {
    "METRICS_PERMISSION": "prometheus",
    "AuthCollector": "prometheus",
    "PrometheusMetrics": "prometheus",
    "metrics_route": "prometheus",
    "OpenTelemetryMetrics": "otel",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
