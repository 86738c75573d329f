"""OpenTelemetry: observable instruments that read the authenticator's counters when the SDK
collects, and a histogram of verification latency. Needs `pip install 'asgi-mcp-auth[opentelemetry]'`
(the API; the application configures the SDK and its exporters).

    OpenTelemetryMetrics(authenticator)                       # the global MeterProvider
    OpenTelemetryMetrics(authenticator, meter_provider=provider)

Counts are observable counters and gauges: their callbacks run at collection time (often in the
SDK's export thread) and only read, so a request pays nothing to OpenTelemetry. The latency
histogram is recorded on the cold path only (a token the cache did not hold).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable

from ...core.stats import LATENCY_BOUNDS, VERIFIER_KINDS
from ...pipeline.authenticator import Authenticator
from ...pipeline.middleware import MCPAuthMiddleware
from .snapshot import SCALARS, Scalar, authenticator_of, read_snapshot

try:
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, Histogram, Meter, MeterProvider, Observation
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the library
    raise ImportError(
        "asgi_mcp_auth.integrations.metrics.otel needs opentelemetry-api: pip install 'asgi-mcp-auth[opentelemetry]'"
    ) from exc

__all__ = ["INSTRUMENTATION_SCOPE", "OpenTelemetryMetrics"]

INSTRUMENTATION_SCOPE = "asgi_mcp_auth"
Callback = Callable[[CallbackOptions], Iterable[Observation]]


class OpenTelemetryMetrics:
    """Creates this package's instruments on a meter of `meter_provider` (default: the global
    one) for the authenticator of `source`; names start with `prefix` (`mcp_auth.decisions`, ...).
    `close()` stops recording the latency histogram (observable instruments live as long as
    their meter provider)."""

    def __init__(
        self,
        source: Authenticator | MCPAuthMiddleware,
        *,
        meter_provider: MeterProvider | None = None,
        prefix: str = "mcp_auth",
    ) -> None:
        self.authenticator = authenticator_of(source)
        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        meter = provider.get_meter(INSTRUMENTATION_SCOPE, _version())
        meter.create_observable_counter(
            f"{prefix}.decisions",
            callbacks=[self._decisions],
            unit="{decision}",
            description="Authentication decisions, by outcome and reason.",
        )
        meter.create_observable_counter(
            f"{prefix}.revocations",
            callbacks=[self._revocations],
            unit="{revocation}",
            description="Revocations made through Authenticator.revoke, by kind.",
        )
        for scalar in SCALARS:
            create = meter.create_observable_counter if scalar.kind == "counter" else meter.create_observable_gauge
            create(
                f"{prefix}.{scalar.name}",
                callbacks=[self._scalar(scalar)],
                unit=scalar.unit,
                description=scalar.description,
            )
        self._histogram = _latency_histogram(meter, f"{prefix}.verification.duration")
        self._attributes = {kind: {"verifier": kind} for kind in VERIFIER_KINDS}
        self.authenticator.stats.add_verification_listener(self._record)

    def __repr__(self) -> str:
        return f"OpenTelemetryMetrics(authenticator={self.authenticator!r})"

    def close(self) -> None:
        self.authenticator.stats.remove_verification_listener(self._record)

    def _record(self, kind: str, seconds: float) -> None:
        self._histogram.record(seconds, self._attributes[kind])

    def _decisions(self, options: CallbackOptions) -> Iterable[Observation]:
        decisions = self.authenticator.stats.decisions()
        return [Observation(count, {"outcome": o, "reason": r}) for (o, r), count in sorted(decisions.items())]

    def _revocations(self, options: CallbackOptions) -> Iterable[Observation]:
        revocations = dict(self.authenticator.stats.revocations)
        return [Observation(count, {"kind": kind}) for kind, count in sorted(revocations.items())]

    def _scalar(self, scalar: Scalar) -> Callback:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            value = getattr(read_snapshot(self.authenticator), scalar.field)
            return [] if value is None else [Observation(value)]

        return observe


def _version() -> str | None:
    try:
        return importlib.metadata.version("asgi-mcp-auth")
    except importlib.metadata.PackageNotFoundError:  # a checkout that was not installed
        return None


def _latency_histogram(meter: Meter, name: str) -> Histogram:
    description = "Time to verify a credential the verified-token cache did not hold, by verifier kind."
    try:
        return meter.create_histogram(
            name, unit="s", description=description, explicit_bucket_boundaries_advisory=LATENCY_BOUNDS
        )
    except TypeError:  # opentelemetry-api < 1.30 takes no advice: configure a View for the buckets
        return meter.create_histogram(name, unit="s", description=description)
